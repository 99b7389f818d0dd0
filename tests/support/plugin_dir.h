/* Where the built plugins are: $SY_PLUGIN_DIR (meson sets it), else the
 * default build directory. Pasted into config JSON as is. */
#ifndef SY_TEST_PLUGIN_DIR_H
#define SY_TEST_PLUGIN_DIR_H

#include <stdlib.h>

static const char *plugin_dir(void) {
    const char *d = getenv("SY_PLUGIN_DIR");
    return d ? d : "build/plugins";
}

#endif
