/* octavo site SITE_DIR -o OUT_DIR: the site bundle (and, later, the whole collateral). */
#ifndef OCTAVO_CLI_SITE_H
#define OCTAVO_CLI_SITE_H
int cli_site(int argc, char **argv);
#endif
