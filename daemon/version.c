/* Version of the daemon library, so szdaemon always has a source file. */
const char *sz_daemon_version(void) {
    return "0.1.0";
}
