# install(): headers, the library, an exported CMake package and a pkg-config file.
include(CMakePackageConfigHelpers)

install(TARGETS bounded_subprocess
  EXPORT bounded_subprocessTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/bounded_subprocess DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT bounded_subprocessTargets
  NAMESPACE bounded_subprocess::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bounded_subprocess)

configure_package_config_file(cmake/bounded_subprocessConfig.cmake.in
  ${PROJECT_BINARY_DIR}/bounded_subprocessConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bounded_subprocess)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/bounded_subprocessConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/bounded_subprocessConfig.cmake
  ${PROJECT_BINARY_DIR}/bounded_subprocessConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bounded_subprocess)

# The .pc finds its prefix relative to its own location, so that an install
# into another prefix (cmake --install --prefix DIR, DESTDIR) stays correct.
file(RELATIVE_PATH BOUNDED_SUBPROCESS_PC_UP
  /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" BOUNDED_SUBPROCESS_PC_UP "${BOUNDED_SUBPROCESS_PC_UP}")
set(BOUNDED_SUBPROCESS_PC_PREFIX "\${pcfiledir}/${BOUNDED_SUBPROCESS_PC_UP}")
# The async headers include Asio: its directory goes into Cflags unless the
# compiler searches it anyway (/usr/include for Debian's libasio-dev).
set(BOUNDED_SUBPROCESS_PC_ASIO_CFLAGS "")
if(NOT BOUNDED_SUBPROCESS_ASIO_INCLUDE_DIR IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
  set(BOUNDED_SUBPROCESS_PC_ASIO_CFLAGS " -I${BOUNDED_SUBPROCESS_ASIO_INCLUDE_DIR}")
endif()
configure_file(cmake/bounded_subprocess.pc.in ${PROJECT_BINARY_DIR}/bounded_subprocess.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/bounded_subprocess.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
