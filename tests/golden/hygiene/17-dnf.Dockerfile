FROM fedora:40
RUN dnf install -y nginx && dnf clean all
RUN dnf -y install vim-minimal && dnf clean all
