# target: distroless
# warning: gcr.io/distroless/java21-debian12 sets its own ENTRYPOINT; reset so CMD runs as in the original
FROM maven:3.9-eclipse-temurin-21 AS builder
WORKDIR /app
COPY pom.xml .
RUN mvn -B dependency:go-offline
COPY src ./src
RUN mvn -B package -DskipTests
EXPOSE 8080
CMD ["java", "-jar", "target/app.jar"]

# runtime stage added by imgopt: only what the program needs to run
FROM gcr.io/distroless/java21-debian12
ENTRYPOINT []
COPY --from=builder /app/target/*.jar /app/target/
WORKDIR /app
EXPOSE 8080
CMD ["java", "-jar", "target/app.jar"]
USER 65532:65532
