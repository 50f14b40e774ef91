# MpsafeLibrary.cmake: one function that builds an mpsafe library the same
# way for the core (mpsafe) and the network stack (mpsafe_net).
#
# mpsafe_add_library(<name>
#     SOURCES <files...>          explicit list, no globbing
#     [EXPORT_NAME <n>]           mpsafe::<n> (default <name>)
#     [DEPENDS <mpsafe libs...>]  other libraries built by this function:
#                                 the shared variant links <dep>, the static
#                                 one <dep>_static
#     [DEFINITIONS <defs...>])    extra PRIVATE compile definitions
#
# Creates
#   <name>_objects   OBJECT library: every source compiled once, PIC,
#                    hidden visibility, project warnings, the library's
#                    private definitions (MPSAFE_DIAGNOSTIC, MPSAFE_DEBUG,
#                    MPSAFE_HAVE_*).
#   <name>           SHARED  lib<name>.so.<VERSION> (SOVERSION 0)
#   <name>_static    STATIC  lib<name>.a
#   mpsafe::<export> and mpsafe::<export>_static aliases, and install rules
#   into the mpsafeTargets export set.
#
# Callers set MPSAFE_LIBRARY_PRIVATE_DEFINITIONS (a list) before calling;
# the root CMakeLists.txt does.

include_guard(GLOBAL)
include(GNUInstallDirs)

function(mpsafe_add_library name)
	cmake_parse_arguments(PARSE_ARGV 1 A "" "EXPORT_NAME"
	    "SOURCES;DEPENDS;DEFINITIONS")
	if(A_UNPARSED_ARGUMENTS)
		message(FATAL_ERROR
		    "mpsafe_add_library(${name}): unknown arguments "
		    "${A_UNPARSED_ARGUMENTS}")
	endif()
	if(NOT A_SOURCES)
		message(FATAL_ERROR "mpsafe_add_library(${name}): no SOURCES")
	endif()
	if(NOT A_EXPORT_NAME)
		set(A_EXPORT_NAME ${name})
	endif()

	set(_public_includes
	    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
	    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

	add_library(${name}_objects OBJECT ${A_SOURCES})
	set_target_properties(${name}_objects PROPERTIES
	    POSITION_INDEPENDENT_CODE ON
	    C_VISIBILITY_PRESET hidden
	    VISIBILITY_INLINES_HIDDEN ON)
	target_include_directories(${name}_objects
	    PUBLIC ${_public_includes}
	    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
	target_compile_definitions(${name}_objects PRIVATE
	    ${MPSAFE_LIBRARY_PRIVATE_DEFINITIONS} ${A_DEFINITIONS})
	target_link_libraries(${name}_objects PRIVATE mpsafe_warnings
	    PUBLIC Threads::Threads)
	foreach(_dep IN LISTS A_DEPENDS)
		# Usage requirements only (include directories).
		target_link_libraries(${name}_objects PRIVATE ${_dep})
	endforeach()

	add_library(${name} SHARED $<TARGET_OBJECTS:${name}_objects>)
	add_library(${name}_static STATIC $<TARGET_OBJECTS:${name}_objects>)
	set_target_properties(${name} PROPERTIES
	    OUTPUT_NAME ${name}
	    VERSION ${PROJECT_VERSION}
	    SOVERSION ${PROJECT_VERSION_MAJOR}
	    C_VISIBILITY_PRESET hidden
	    VISIBILITY_INLINES_HIDDEN ON
	    EXPORT_NAME ${A_EXPORT_NAME})
	set_target_properties(${name}_static PROPERTIES
	    OUTPUT_NAME ${name}
	    POSITION_INDEPENDENT_CODE ON
	    EXPORT_NAME ${A_EXPORT_NAME}_static)
	# No undefined symbols left for the program to supply.  Not with
	# sanitizers: clang leaves their runtime to the executable.
	if(CMAKE_SYSTEM_NAME STREQUAL "Linux" AND NOT MPSAFE_SANITIZE_LIST)
		target_link_options(${name} PRIVATE LINKER:--no-undefined)
	endif()

	foreach(_t ${name} ${name}_static)
		target_include_directories(${_t} PUBLIC ${_public_includes})
		target_link_libraries(${_t} PUBLIC Threads::Threads)
	endforeach()
	foreach(_dep IN LISTS A_DEPENDS)
		target_link_libraries(${name} PUBLIC ${_dep})
		target_link_libraries(${name}_static PUBLIC ${_dep}_static)
	endforeach()

	add_library(mpsafe::${A_EXPORT_NAME} ALIAS ${name})
	add_library(mpsafe::${A_EXPORT_NAME}_static ALIAS ${name}_static)

	install(TARGETS ${name} ${name}_static
	    EXPORT mpsafeTargets
	    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
	        COMPONENT runtime NAMELINK_COMPONENT devel
	    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel
	    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
	    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
