# Build stage: the same Maven build as on a developer machine, tests skipped (CI runs them).
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
COPY schemas schemas
COPY retell retell
COPY common common
COPY testkit testkit
COPY ingress ingress
COPY processor processor
COPY egress egress
COPY app app
COPY cli cli
RUN mvn -B -q -DskipTests package

FROM eclipse-temurin:17-jre
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/callguard
COPY --from=build /src/cli/target/callguard.jar callguard.jar
COPY --from=build /src/cli/target/lib lib
# Class data sharing, as bin/callguard keeps it for `run` (README, "Cold start"; Java 17: an AppCDS dynamic archive):
# a training run of `run` at build (embedded broker, every role, the JIT warm-up, then SIGTERM) records the classes it
# loaded into callguard.jsa, which every start of the image maps instead of parsing and verifying them again. The
# training's JVM options are the ENTRYPOINT's, less the archive it maps, and the jar and lib/ are these same files:
# the JVM ignores an archive recorded otherwise (a test, DocsAndDeploymentTest, holds them equal). Owned by root,
# read-only: the user the gateway runs as cannot change what its JVM maps.
COPY deploy/cds-archive.sh /usr/local/bin/callguard-cds-archive
RUN callguard-cds-archive /opt/callguard/callguard.jsa java -XX:+UseZGC -XX:MaxRAMPercentage=75 -Xlog:disable \
    -Xlog:all=warning,cds*=error:stderr -jar /opt/callguard/callguard.jar
RUN useradd --system --home /var/lib/callguard callguard && mkdir -p /var/lib/callguard \
    && chown callguard /var/lib/callguard
USER callguard
# 8080: the public listener Retell reaches (http.port). 8081: the admin listener (admin.port: metrics, dashboard,
# call state); it binds 127.0.0.1 unless CALLGUARD_ADMIN_HOST says otherwise (compose: 0.0.0.0, with a token).
EXPOSE 8080 8081
# ZGC: sub-millisecond pauses on the turn path (BENCHMARKS.md); the heap takes up to 75% of the container. JVM warnings
# go to stderr (stdout carries the ready line only), less the class-data archive's own.
ENTRYPOINT ["java", "-XX:+UseZGC", "-XX:MaxRAMPercentage=75", "-Xlog:disable", "-Xlog:all=warning,cds*=error:stderr", "-XX:SharedArchiveFile=/opt/callguard/callguard.jsa", "-jar", "/opt/callguard/callguard.jar"]
CMD ["run"]
