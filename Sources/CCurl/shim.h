// libcurl's easy interface (Debian: libcurl4-openssl-dev). curl_easy_setopt and curl_easy_getinfo are
// variadic and do not import into Swift; CCurlShim wraps them with typed functions.
#include <curl/curl.h>
