/* Loads a module privately (RTLD_LOCAL, as Python and Node load theirs), calls its open. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv){
  void *module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if( !module ){ printf("%s\n", dlerror()); return 1; }
  int (*module_open)(void) = (int (*)(void))dlsym(module, "module_open");
  printf("open: %d\n", module_open());
  return 0;
}
