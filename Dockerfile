FROM base
RUN make install
RUN chmod 700 /bin/app && echo x > /etc/app.conf && rm /opt/data.bin
# cleanup
RUN rm -rf /var/lib/apt/lists /usr/share/doc && \
    rm -rf /var/cache && mkdir /var/cache
CMD ["/bin/app"]
