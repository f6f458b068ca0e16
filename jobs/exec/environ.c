/* The environment a program gets for one evaluation: banyan's own (so PATH, HOME, module
 * settings and the like reach it) with every BANYAN_* variable replaced by the ones that
 * describe this job: BANYAN_JOB_ID, BANYAN_SEED, BANYAN_SAMPLE, BANYAN_ATTEMPT,
 * BANYAN_STATE and BANYAN_DOMAIN. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"

extern char **environ;

enum { MAX_OWN = 6 };

void bn__exec_environment_free(char **envp) {
  if (!envp) return;
  /* Our own strings follow the borrowed ones; a NULL slot separates the two groups. */
  size_t i = 0;
  while (envp[i]) i++;
  for (size_t k = i + 1; envp[k]; k++) free(envp[k]);
  free(envp);
}

static char *format(const char *name, const char *value) {
  size_t n = strlen(name) + strlen(value) + 2;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s=%s", name, value);
  return s;
}

char **bn__exec_environment(const bn_eval_request *req, const char *state_text, const char *domain) {
  size_t inherited = 0;
  for (char **e = environ; e && *e; e++) inherited++;
  /* Layout: [kept inherited..., own..., NULL, own copies..., NULL]. The second group repeats
   * our own pointers so that free knows which strings it allocated. */
  char **envp = calloc(inherited + 2 * MAX_OWN + 2, sizeof *envp);
  if (!envp) return NULL;
  size_t n = 0;
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, "BANYAN_", 7) != 0) envp[n++] = *e;
  char num[32];
  char *own[MAX_OWN];
  size_t k = 0;
  snprintf(num, sizeof num, "%" PRIu64, req->job_id);
  own[k++] = format("BANYAN_JOB_ID", num);
  snprintf(num, sizeof num, "%" PRIu64, req->seed);
  own[k++] = format("BANYAN_SEED", num);
  if (req->sample != BN_SAMPLE_NONE) {
    snprintf(num, sizeof num, "%" PRIu32, req->sample);
    own[k++] = format("BANYAN_SAMPLE", num);
  }
  snprintf(num, sizeof num, "%" PRIu32, req->attempt);
  own[k++] = format("BANYAN_ATTEMPT", num);
  own[k++] = format("BANYAN_STATE", state_text ? state_text : "");
  own[k++] = format("BANYAN_DOMAIN", domain ? domain : "");
  int nomem = 0;
  for (size_t i = 0; i < k; i++) nomem |= own[i] == NULL;
  if (nomem) {
    for (size_t i = 0; i < k; i++) free(own[i]);
    free(envp);
    return NULL;
  }
  for (size_t i = 0; i < k; i++) envp[n++] = own[i];
  envp[n++] = NULL;
  for (size_t i = 0; i < k; i++) envp[n++] = own[i];
  envp[n] = NULL;
  return envp;
}
