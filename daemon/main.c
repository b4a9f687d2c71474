/* samizdatd: placeholder until the node service lands (issue 4). */
#include <stdio.h>

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "samizdatd: the node service is not built yet; see README.md\n");
    return 2;
}
