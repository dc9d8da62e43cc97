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

configure_file(cmake/bounded_subprocess.pc.in ${PROJECT_BINARY_DIR}/bounded_subprocess.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/bounded_subprocess.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
