# MpsafeManLinks.cmake: one manual name per function, as NetBSD's MLINKS.
#
# mpsafe_man_links(<mandir> <destination>)
#
# Each page in <mandir>/*.3 documents several functions, listed with .Nm in
# its NAME section.  For every such name that has no page of its own, write
# a one-line page "<name>.3" containing ".so man3/<page>.3" (man(1) follows
# it to the real page) and install it next to the pages, so that
# `man psref_acquire` finds psref(3).  A name listed by two pages links to
# the first in alphabetical order.  The stubs are generated at configure
# time; editing a page re-runs configure.
function(mpsafe_man_links mandir destination)
	file(GLOB _pages LIST_DIRECTORIES false "${mandir}/*.3")
	list(SORT _pages)
	set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_pages})
	set(_outdir ${CMAKE_CURRENT_BINARY_DIR}/man-links)
	file(REMOVE_RECURSE ${_outdir})
	file(MAKE_DIRECTORY ${_outdir})
	set(_pagenames "")
	foreach(_page IN LISTS _pages)
		get_filename_component(_name ${_page} NAME_WE)
		list(APPEND _pagenames ${_name})
	endforeach()
	set(_done "")
	set(_stubs "")
	foreach(_page IN LISTS _pages)
		get_filename_component(_pagename ${_page} NAME_WE)
		file(STRINGS ${_page} _lines)
		set(_in_name OFF)
		foreach(_line IN LISTS _lines)
			if(_line MATCHES "^\\.Sh NAME")
				set(_in_name ON)
			elseif(_line MATCHES "^\\.Sh ")
				set(_in_name OFF)
			elseif(_in_name AND _line MATCHES "^\\.Nm ([A-Za-z0-9_]+)")
				set(_fn ${CMAKE_MATCH_1})
				if(NOT _fn IN_LIST _pagenames AND NOT _fn IN_LIST _done)
					list(APPEND _done ${_fn})
					file(WRITE ${_outdir}/${_fn}.3 ".so man3/${_pagename}.3\n")
					list(APPEND _stubs ${_outdir}/${_fn}.3)
				endif()
			endif()
		endforeach()
	endforeach()
	if(_stubs)
		install(FILES ${_stubs} DESTINATION ${destination} COMPONENT doc)
	endif()
endfunction()
