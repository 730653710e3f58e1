/*
** Runs SQLite's speedtest1 with walguard loaded first, so that `--vfs walguard` names a
** registered VFS (`--vfs bare` is the bare baseline, with the same library loaded).
** speedtest1.c is compiled with -Dmain=speedtest1_main.
*/
#include "load.h"

int speedtest1_main(int argc, char **argv);

int main(int argc, char **argv){
  if( !load_walguard() ) return 1;
  return speedtest1_main(argc, argv);
}
