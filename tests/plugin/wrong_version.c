/* A plug-in built for an older domain API (version 1): it stands for a library compiled
 * against an earlier banyan's headers, which banyan must refuse before it reads the table
 * (whose layout differed). The table itself is never looked at. */
#include <banyan/domain.h>

#undef BN_DOMAIN_API_VERSION
#define BN_DOMAIN_API_VERSION 1u

static const bn_domain_ops old_domain = {.api_version = BN_DOMAIN_API_VERSION, .name = "old"};

BN_DOMAIN_PLUGIN(old_domain);
