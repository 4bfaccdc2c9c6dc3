# escape=`
FROM mcr.microsoft.com/windows/servercore:ltsc2022
RUN powershell -Command `
    $ErrorActionPreference = 'Stop'; `
    Invoke-WebRequest -Uri https://example.com/x.zip -OutFile C:\x.zip
WORKDIR C:\app
COPY . C:\app
