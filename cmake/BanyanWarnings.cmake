# One place for compiler warnings, applied per target.
function(banyan_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
    -Wformat=2 -Wundef -Wvla -Wno-unused-parameter)
  if(BANYAN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
