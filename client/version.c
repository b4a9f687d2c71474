/* Version of the client library, so szclient always has a source file. */
const char *sz_client_version(void) {
    return "0.1.0";
}
