#ifndef HINDSIGHT_AEAD_H
#define HINDSIGHT_AEAD_H
#include <node_api.h>

// Defines aeadAvailable, aeadSeal and aeadOpen on `exports` (see aead.c).
napi_status aead_define(napi_env env, napi_value exports);

#endif
