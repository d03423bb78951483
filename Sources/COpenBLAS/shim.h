// OpenBLAS's CBLAS interface plus its threading controls (openblas_set_num_threads).
// Debian's libopenblas-dev puts cblas.h on the default include path via alternatives; pkg-config
// "openblas" adds the pthread variant's directory as well.
#include <cblas.h>
