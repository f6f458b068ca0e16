/* Private to jobs/plugin: checking the table a plug-in library hands over. */
#ifndef BN_JOBS_PLUGIN_H
#define BN_JOBS_PLUGIN_H

#include <stddef.h>

#include "banyan/domain.h"

/* Whether `ops`, from the plug-in at `path` whose banyan_plugin_api_version was already
 * found equal to BN_DOMAIN_API_VERSION, can be used: true, or false with the reason in why. */
bool bn__plugin_table_ok(const bn_domain_ops *ops, const char *path, char *why, size_t whylen);

#endif
