FROM centos:7
RUN yum install -y httpd && yum clean all && rm -rf /var/cache/yum
RUN yum install -y php && yum clean all && rm -rf /var/cache/yum
