#include <stdio.h>
int main(void) {
    fprintf(stderr, "samizdat: not built yet\n");
    return 2;
}
