/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KMS_CMDS_H
#define KMS_CMDS_H

int cmd_crypto(const char *prefix, int argc, char **argv);
int cmd_mikey(const char *prefix, int argc, char **argv);
int cmd_keys(const char *prefix, int argc, char **argv);
int cmd_token(const char *prefix, int argc, char **argv);
int cmd_subscriber(const char *prefix, int argc, char **argv);
int cmd_kue(const char *prefix, int argc, char **argv);
int cmd_ue(const char *prefix, int argc, char **argv);

#endif
