# MpsafePkgConfig.cmake: generate and install a pkg-config file.
#
# mpsafe_pkgconfig(<name> DESCRIPTION <text> LIBS <flags>
#     [LIBS_PRIVATE <flags>] [REQUIRES <pkgs>])
#
# Writes <build>/<name>.pc from cmake/mpsafe.pc.in and installs it to
# ${CMAKE_INSTALL_LIBDIR}/pkgconfig.  When the install directories are
# relative (the usual case), prefix is computed from ${pcfiledir}, so the
# file stays right whatever --prefix or DESTDIR `cmake --install` is given.

include_guard(GLOBAL)
include(GNUInstallDirs)

function(mpsafe_pkgconfig name)
	cmake_parse_arguments(PARSE_ARGV 1 A ""
	    "DESCRIPTION;LIBS;LIBS_PRIVATE;REQUIRES" "")
	set(PC_NAME ${name})
	set(PC_DESCRIPTION "${A_DESCRIPTION}")
	set(PC_LIBS "${A_LIBS}")
	set(PC_LIBS_PRIVATE "${A_LIBS_PRIVATE}")
	set(PC_REQUIRES "${A_REQUIRES}")

	set(_pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
	if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}"
	    OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
		set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
		set(PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
		set(PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
	else()
		# From <prefix>/<libdir>/pkgconfig back up to <prefix>.
		file(RELATIVE_PATH _up "/root/${_pcdir}" "/root")
		string(REGEX REPLACE "/$" "" _up "${_up}")
		set(PC_PREFIX "\${pcfiledir}/${_up}")
		set(PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
		set(PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
	endif()

	configure_file(${PROJECT_SOURCE_DIR}/cmake/mpsafe.pc.in
	    ${PROJECT_BINARY_DIR}/${name}.pc @ONLY)
	install(FILES ${PROJECT_BINARY_DIR}/${name}.pc
	    DESTINATION ${_pcdir}
	    COMPONENT devel)
endfunction()
