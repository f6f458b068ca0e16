/* A shared library that is not a banyan plug-in: it exports a function, but neither
 * banyan_plugin_api_version nor banyan_plugin_domain(). banyan must refuse it. */
int not_a_banyan_plugin(int x);
int not_a_banyan_plugin(int x) { return x + 1; }
