#ifndef HV_ALLOCA_H
#define HV_ALLOCA_H
#define alloca __builtin_alloca
#endif
