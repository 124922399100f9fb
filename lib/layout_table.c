/* Tables: a first version sets the cells' content as blocks (replaced below). */
#include "layout_int.h"

void lay_table(lay *L, xmlNodePtr table, bctx *c) { lay_blocks(L, table, c); }
