FROM continuumio/miniconda3:24.1.2-0
RUN conda install -y numpy pandas && conda clean -afy
RUN conda create -y -n app python=3.12 && conda clean -afy
