#include "error.h"

#include <errno.h>
#include <string.h>

const char *sz_strerror(int err) {
    switch (err) {
    case 0:
        return "success";
#define SZ__ERR_MSG(name, value, msg)                                                              \
    case value:                                                                                    \
        return msg;
        SZ_ERRNO_MAP(SZ__ERR_MSG)
#undef SZ__ERR_MSG
    default:
        /* strerror is fine here: errno values map to static strings in glibc. */
        return err < 0 && err > -1000 ? strerror(-err) : "unknown error";
    }
}

const char *sz_errname(int err) {
    switch (err) {
    case 0:
        return "OK";
#define SZ__ERR_NAME(name, value, msg)                                                             \
    case value:                                                                                    \
        return #name;
        SZ_ERRNO_MAP(SZ__ERR_NAME)
#undef SZ__ERR_NAME
    case -ENOMEM:
        return "ENOMEM";
    case -EIO:
        return "EIO";
    case -ENOENT:
        return "ENOENT";
    case -EINVAL:
        return "EINVAL";
    case -ENOSPC:
        return "ENOSPC";
    case -EACCES:
        return "EACCES";
    default:
        return "EUNKNOWN";
    }
}
