/* SPDX-License-Identifier: Apache-2.0 */
#include "imskms/imskms.h"

const char *kms_version(void)
{
    return IMSKMS_VERSION;
}
