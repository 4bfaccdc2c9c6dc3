FROM opensuse/leap:15.6
RUN zypper install -y curl && zypper clean --all
RUN zypper --non-interactive install -y git && zypper clean -a
