package io.callguard.app;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The module boundaries of DESIGN.md, kept true by the build. */
class ArchitectureTest {

    private static JavaClasses classes;

    @BeforeAll
    static void importProductionClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.callguard");
    }

    @Test
    void shouldKeepSchemasFreeOfEveryOtherModule() {
        noClasses().that().resideInAPackage("io.callguard.schemas..")
                .should().dependOnClassesThat().resideInAnyPackage("io.callguard.ingress..", "io.callguard.processor..",
                        "io.callguard.egress..", "io.callguard.app..")
                .check(classes);
    }

    @Test
    void shouldKeepRolesFromImportingEachOtherExceptEgressOnIngressApi() {
        noClasses().that().resideInAPackage("io.callguard.ingress..")
                .should().dependOnClassesThat().resideInAnyPackage("io.callguard.processor..", "io.callguard.egress..",
                        "io.callguard.app..")
                .check(classes);
        noClasses().that().resideInAPackage("io.callguard.processor..")
                .should().dependOnClassesThat().resideInAnyPackage("io.callguard.ingress..", "io.callguard.egress..",
                        "io.callguard.app..")
                .check(classes);
        noClasses().that().resideInAPackage("io.callguard.egress..")
                .should().dependOnClassesThat().resideInAnyPackage("io.callguard.processor..", "io.callguard.app..",
                        "io.callguard.ingress.internal..")
                .check(classes);
    }

    @Test
    void shouldNeverImportAnotherModulesInternals() {
        noClasses().that().resideInAPackage("io.callguard.app..")
                .should().dependOnClassesThat().resideInAnyPackage("io.callguard.ingress.internal..",
                        "io.callguard.processor.internal..", "io.callguard.processor.responder.internal..",
                        "io.callguard.egress.internal..")
                .check(classes);
    }

    @Test
    void shouldKeepJettyServerCodeInIngress() {
        noClasses().that().resideOutsideOfPackage("io.callguard.ingress..")
                .should().dependOnClassesThat().resideInAnyPackage("org.eclipse.jetty.server..",
                        "org.eclipse.jetty.websocket.server..")
                .check(classes);
    }

    @Test
    void shouldKeepJettyClientCodeInEgressAndTheDrill() {
        noClasses().that().resideOutsideOfPackages("io.callguard.egress..", "io.callguard.app.drill..")
                .should().dependOnClassesThat().resideInAnyPackage("org.eclipse.jetty.websocket.client..",
                        "org.eclipse.jetty.client..")
                .check(classes);
    }

    @Test
    void shouldKeepKafkaStreamsAndRocksDbInTheProcessorAndTheOfflineReplay() {
        // replay re-runs a call's events through the processor's own topology, offline (TopologyTestDriver).
        noClasses().that().resideOutsideOfPackages("io.callguard.processor..", "io.callguard.app.replay..")
                .should().dependOnClassesThat().resideInAnyPackage("org.apache.kafka.streams..", "org.rocksdb..")
                .check(classes);
    }
}
