# Installation: headers, libbanyan.so, the `banyan` executable, a CMake package
# (find_package(banyan) -> banyan::banyan) and a pkg-config file (banyan.pc), so that a
# user's plug-in domain builds against an installed banyan. Every path is relocatable:
# `cmake --install BUILD --prefix DIR` works for any DIR.
include(CMakePackageConfigHelpers)

set(BANYAN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/banyan)

# The executable finds libbanyan.so next to it: BINDIR/../LIBDIR.
file(RELATIVE_PATH _bn_bin_to_lib /${CMAKE_INSTALL_BINDIR} /${CMAKE_INSTALL_LIBDIR})
set_target_properties(banyan_cli PROPERTIES INSTALL_RPATH "$ORIGIN/${_bn_bin_to_lib}")

install(TARGETS banyan_shared EXPORT banyanTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development)
install(TARGETS banyan_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/banyan DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

install(EXPORT banyanTargets NAMESPACE banyan:: DESTINATION ${BANYAN_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/banyanConfig.cmake.in
  ${PROJECT_BINARY_DIR}/banyanConfig.cmake INSTALL_DESTINATION ${BANYAN_CMAKE_DIR})
# 0.x: a new minor version may change the API (plug-ins also check the domain API version
# at load time).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/banyanConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/banyanConfig.cmake ${PROJECT_BINARY_DIR}/banyanConfigVersion.cmake
  DESTINATION ${BANYAN_CMAKE_DIR})

# banyan.pc: the prefix is found from the file's own place (${pcfiledir}).
file(RELATIVE_PATH BANYAN_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" BANYAN_PC_TO_PREFIX "${BANYAN_PC_TO_PREFIX}")
# The headers need MPI's and GSL's: name their pkg-config modules when there are some,
# else give MPI's include directories as found by CMake.
set(BANYAN_PC_REQUIRES gsl)
set(BANYAN_PC_CFLAGS "")
pkg_search_module(BANYAN_MPI_PC QUIET ompi-c mpich mpi)
if(BANYAN_MPI_PC_FOUND)
  string(APPEND BANYAN_PC_REQUIRES " ${BANYAN_MPI_PC_MODULE_NAME}")
else()
  foreach(dir IN LISTS MPI_C_INCLUDE_DIRS)
    string(APPEND BANYAN_PC_CFLAGS " -I${dir}")
  endforeach()
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/banyan.pc.in ${PROJECT_BINARY_DIR}/banyan.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/banyan.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
