package io.callguard.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The module boundaries of the README's architecture section, kept true by the build. It lives in cli, the one
 * module whose classpath holds every other, and states each rule without exceptions for the tools.
 */
class ArchitectureTest {

    private static final String SCHEMAS = "io.callguard.schemas..";
    private static final String RETELL = "io.callguard.retell..";
    private static final String COMMON = "io.callguard.common..";
    private static final String INGRESS = "io.callguard.ingress..";
    private static final String PROCESSOR = "io.callguard.processor..";
    private static final String EGRESS = "io.callguard.egress..";
    private static final String APP = "io.callguard.app..";
    private static final String CLI = "io.callguard.cli..";
    private static final String TESTKIT = "io.callguard.testkit..";

    private static JavaClasses classes;

    @BeforeAll
    static void importProductionClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.callguard");
    }

    @Test
    void shouldKeepSchemasFreeOfEveryOtherModule() {
        noClasses().that().resideInAPackage(SCHEMAS)
                .should().dependOnClassesThat().resideInAnyPackage(RETELL, COMMON, INGRESS, PROCESSOR, EGRESS, APP,
                        CLI, TESTKIT)
                .check(classes);
    }

    @Test
    void shouldKeepRetellFreeOfEveryOtherModule() {
        // Not even schemas: no record belongs to both Retell's protocol and callguard's topics.
        noClasses().that().resideInAPackage(RETELL)
                .should().dependOnClassesThat().resideInAnyPackage(SCHEMAS, COMMON, INGRESS, PROCESSOR, EGRESS, APP,
                        CLI, TESTKIT)
                .check(classes);
    }

    @Test
    void shouldKeepCommonOnSchemasAlone() {
        noClasses().that().resideInAPackage(COMMON)
                .should().dependOnClassesThat().resideInAnyPackage(RETELL, INGRESS, PROCESSOR, EGRESS, APP, CLI,
                        TESTKIT)
                .check(classes);
    }

    @Test
    void shouldKeepRolesFromImportingEachOther() {
        noClasses().that().resideInAPackage(INGRESS)
                .should().dependOnClassesThat().resideInAnyPackage(PROCESSOR, EGRESS, APP, CLI, TESTKIT)
                .check(classes);
        noClasses().that().resideInAPackage(PROCESSOR)
                .should().dependOnClassesThat().resideInAnyPackage(INGRESS, EGRESS, APP, CLI, TESTKIT)
                .check(classes);
        noClasses().that().resideInAPackage(EGRESS)
                .should().dependOnClassesThat().resideInAnyPackage(INGRESS, PROCESSOR, APP, CLI, TESTKIT)
                .check(classes);
    }

    @Test
    void shouldKeepAppBelowTheToolsAndTheTestKitOutOfProduction() {
        noClasses().that().resideInAPackage(APP)
                .should().dependOnClassesThat().resideInAnyPackage(CLI, TESTKIT)
                .check(classes);
        noClasses().that().resideInAPackage(CLI)
                .should().dependOnClassesThat().resideInAPackage(TESTKIT)
                .check(classes);
    }

    @Test
    void shouldNeverImportAnotherModulesInternals() {
        String[][] modules = {{INGRESS, "io.callguard.ingress.internal.."},
            {PROCESSOR, "io.callguard.processor.internal.."}, {PROCESSOR, "io.callguard.processor.responder.internal.."},
            {EGRESS, "io.callguard.egress.internal.."}, {RETELL, "io.callguard.retell.internal.."},
            {APP, "io.callguard.app.internal.."}, {CLI, "io.callguard.cli.internal.."}};
        for (String[] module : modules) {
            noClasses().that().resideOutsideOfPackage(module[0])
                    .should().dependOnClassesThat().resideInAPackage(module[1])
                    .check(classes);
        }
    }

    @Test
    void shouldKeepPicocliInTheCli() {
        noClasses().that().resideOutsideOfPackage(CLI)
                .should().dependOnClassesThat().resideInAPackage("picocli..")
                .check(classes);
    }

    @Test
    void shouldKeepJettyServerCodeInIngress() {
        noClasses().that().resideOutsideOfPackage(INGRESS)
                .should().dependOnClassesThat().resideInAnyPackage("org.eclipse.jetty.server..",
                        "org.eclipse.jetty.websocket.server..")
                .check(classes);
    }

    @Test
    void shouldKeepJettyClientCodeInEgressAndTheCli() {
        // The test kit plays Retell in tests only; it is never on a production classpath (test scope everywhere).
        noClasses().that().resideOutsideOfPackages(EGRESS, CLI, TESTKIT)
                .should().dependOnClassesThat().resideInAnyPackage("org.eclipse.jetty.websocket.client..",
                        "org.eclipse.jetty.client..")
                .check(classes);
    }

    @Test
    void shouldKeepKafkaStreamsAndRocksDbInTheProcessor() {
        noClasses().that().resideOutsideOfPackage(PROCESSOR)
                .should().dependOnClassesThat().resideInAnyPackage("org.apache.kafka.streams..", "org.rocksdb..")
                .check(classes);
    }
}
