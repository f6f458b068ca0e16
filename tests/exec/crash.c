/* Test program: reads its stdin like a real evaluator, then dies of a segmentation fault
 * (a real invalid memory access, not a signal sent to itself). Built without sanitizers,
 * which would turn the crash into an ordinary exit. */
#include <stdio.h>

int main(void) {
  char line[4096];
  if (!fgets(line, sizeof line, stdin)) line[0] = '\0';
  fprintf(stderr, "crash: read %s", line);
  volatile int *volatile nowhere = NULL;
  *nowhere = 1;
  return 0;
}
