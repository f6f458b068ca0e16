/* A plug-in with the right API version whose table is unusable: it has no evaluate and an
 * option that is not named domain.<name>.<key>. banyan must refuse it with the reason. */
#include <banyan/domain.h>

static const bn_option options[] = {
    {"search.sneaky", BN_OPT_INT, "1", 0, 10, NULL, "an option outside the domain's section"},
};

static const bn_domain_ops broken_domain = {
    .api_version = BN_DOMAIN_API_VERSION,
    .name = "broken",
    .options = options,
    .n_options = 1,
};

BN_DOMAIN_PLUGIN(broken_domain);
