# target: multistage
FROM maven:3.9-eclipse-temurin-21 AS builder
WORKDIR /app
COPY pom.xml .
RUN mvn -B dependency:go-offline
COPY src ./src
RUN mvn -B package -DskipTests
EXPOSE 8080
CMD ["java", "-jar", "target/app.jar"]

# runtime stage added by imgopt: only what the program needs to run
FROM eclipse-temurin:21-jre
RUN useradd -l -m -u 10001 app
COPY --from=builder /app/target/*.jar /app/target/
WORKDIR /app
EXPOSE 8080
CMD ["java", "-jar", "target/app.jar"]
USER app
