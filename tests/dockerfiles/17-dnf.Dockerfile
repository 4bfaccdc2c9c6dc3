FROM fedora:40
RUN dnf install -y nginx
RUN dnf -y install vim-minimal && dnf clean all
