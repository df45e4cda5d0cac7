#include "cli.h"
int cmd_apply(const cli_opts_t *o){(void)o;return 1;}
int cmd_status(const cli_opts_t *o){(void)o;return 1;}
int cmd_audit(const cli_opts_t *o){(void)o;return 1;}
int cmd_abort(const cli_opts_t *o){(void)o;return 1;}
