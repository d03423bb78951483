// Typed, non-variadic wrappers around libcurl's variadic curl_easy_setopt / curl_easy_getinfo, which Swift
// cannot call. Each wrapper passes exactly the argument type libcurl documents for the option.
#ifndef RZ_CCURL_SHIM_H
#define RZ_CCURL_SHIM_H

#include <curl/curl.h>

/// CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION / CURLOPT_READFUNCTION callback.
typedef size_t (*rz_curl_data_callback)(char *buffer, size_t size, size_t count, void *context);
/// CURLOPT_XFERINFOFUNCTION callback; a non-zero return aborts the transfer (CURLE_ABORTED_BY_CALLBACK).
typedef int (*rz_curl_xferinfo_callback)(void *context, curl_off_t download_total, curl_off_t download_now,
                                         curl_off_t upload_total, curl_off_t upload_now);

/// curl_global_init(CURL_GLOBAL_DEFAULT), run once per process (thread-safe); returns its result every time.
CURLcode rz_curl_global_init(void);

CURLcode rz_curl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode rz_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode rz_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode rz_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode rz_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode rz_curl_easy_setopt_write_function(CURL *handle, rz_curl_data_callback callback);
CURLcode rz_curl_easy_setopt_header_function(CURL *handle, rz_curl_data_callback callback);
CURLcode rz_curl_easy_setopt_read_function(CURL *handle, rz_curl_data_callback callback);
CURLcode rz_curl_easy_setopt_xferinfo_function(CURL *handle, rz_curl_xferinfo_callback callback);

CURLcode rz_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode rz_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);

#endif
