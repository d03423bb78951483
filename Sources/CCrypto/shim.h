// OpenSSL's libcrypto (Debian: libssl-dev), for the SHA-256 of weights sent between replicas.
#include <openssl/evp.h>
