# tests/model/model.cmake: the Spin model checks (label "model"), included
# from tests/CMakeLists.txt.  See docs/design/verification.md, "Model
# checking".
#
# Each test runs tests/model/run-model.sh on one model configuration: the
# correct algorithm must pass (no assertion violation, no invalid end
# state, no non-progress cycle), and each deliberately broken variant must
# be rejected by spin (for most, with the kind of error named).  A broken
# variant that passes fails its test.
#
# The models check algorithms, not the build: they are registered once,
# in builds without sanitizers (debug, release), so that `make test`
# (debug, tsan, asan) runs them once.  Spin is required (scripts/deps.sh
# installs it); configure fails without it unless MPSAFE_MODEL_CHECK=OFF.

option(MPSAFE_MODEL_CHECK
    "Register the Spin model checks (label model; needs spin)" ON)

# Cross builds (the i386 and aarch64 presets) leave them out: the models
# check the algorithms, not the target, and spin's verifier must run on
# the build machine.
if(MPSAFE_MODEL_CHECK AND NOT MPSAFE_SANITIZE_LIST AND NOT CMAKE_CROSSCOMPILING)
	find_program(MPSAFE_SPIN spin)
	if(NOT MPSAFE_SPIN)
		message(FATAL_ERROR "spin (the Promela model checker) was not "
		    "found; the model checks (label model) need it.  Install "
		    "it with scripts/deps.sh (or: apt-get install spin), or "
		    "configure with -DMPSAFE_MODEL_CHECK=OFF to build without "
		    "them.")
	endif()
	find_program(MPSAFE_MODEL_SH sh REQUIRED)
	set(_model_dir ${CMAKE_CURRENT_SOURCE_DIR}/model)

	# mpsafe_model_test(NAME MODEL EXPECT [DEFINES...])
	function(mpsafe_model_test name model expect)
		set(_work ${CMAKE_CURRENT_BINARY_DIR}/model/${name})
		add_test(NAME model_${name}
		    COMMAND ${MPSAFE_MODEL_SH} ${_model_dir}/run-model.sh
		        ${model} ${ARGN} ${expect})
		set_tests_properties(model_${name} PROPERTIES
		    LABELS model
		    TIMEOUT 240
		    ENVIRONMENT
		        "SPIN=${MPSAFE_SPIN};CC=${CMAKE_C_COMPILER};MODEL_WORKDIR=${_work}")
	endfunction()

	# pserialize: grace periods, both ordering modes.
	mpsafe_model_test(pserialize_membarrier pserialize expect-pass)
	mpsafe_model_test(pserialize_fence pserialize expect-pass -DFENCE_MODE)
	mpsafe_model_test(pserialize_nest_membarrier pserialize expect-pass
	    -DNEST -DNSECT=1)
	mpsafe_model_test(pserialize_nest_fence pserialize expect-pass
	    -DNEST -DNSECT=1 -DFENCE_MODE)
	mpsafe_model_test(pserialize_share_membarrier pserialize expect-pass
	    -DNR=1 -DNW=2)
	mpsafe_model_test(pserialize_share_fence pserialize expect-pass
	    -DNR=1 -DNW=2 -DFENCE_MODE)
	mpsafe_model_test(pserialize_broken_no_wait pserialize
	    expect-fail=assert -DBROKEN_NO_WAIT)
	mpsafe_model_test(pserialize_broken_no_membarrier pserialize
	    expect-fail -DBROKEN_NO_MEMBARRIER)
	mpsafe_model_test(pserialize_broken_no_enter_fence pserialize
	    expect-fail=assert -DFENCE_MODE -DBROKEN_NO_ENTER_FENCE)
	mpsafe_model_test(pserialize_broken_no_exit_fence pserialize
	    expect-fail=deadlock -DFENCE_MODE -DBROKEN_NO_EXIT_FENCE)
	mpsafe_model_test(pserialize_broken_no_waiter_barrier pserialize
	    expect-fail=deadlock -DBROKEN_NO_WAITER_BARRIER)
	mpsafe_model_test(pserialize_broken_wake_before_store pserialize
	    expect-fail=deadlock -DBROKEN_WAKE_BEFORE_STORE)
	mpsafe_model_test(pserialize_broken_wake_before_store_fence pserialize
	    expect-fail=deadlock -DFENCE_MODE -DBROKEN_WAKE_BEFORE_STORE)
	mpsafe_model_test(pserialize_broken_nested_gen pserialize
	    expect-fail=assert -DNEST -DNSECT=1 -DBROKEN_NESTED_GEN)
	mpsafe_model_test(pserialize_broken_share pserialize
	    expect-fail=assert -DNR=1 -DNW=2 -DBROKEN_SHARE)

	# psref: the destroy protocol.
	mpsafe_model_test(psref_membarrier psref expect-pass)
	mpsafe_model_test(psref_fence psref expect-pass -DFENCE_MODE)
	mpsafe_model_test(psref_broken_no_gp psref
	    expect-fail=assert -DBROKEN_NO_GP)
	mpsafe_model_test(psref_broken_release_no_fence psref
	    expect-fail=deadlock -DFENCE_MODE -DBROKEN_RELEASE_NO_FENCE)
	mpsafe_model_test(psref_broken_release_load_first psref
	    expect-fail=deadlock -DBROKEN_RELEASE_LOAD_FIRST)
	mpsafe_model_test(psref_broken_draining_after_gp psref
	    expect-fail=deadlock -DBROKEN_DRAINING_AFTER_GP)
	mpsafe_model_test(psref_broken_wake_after_scan psref
	    expect-fail=deadlock -DBROKEN_WAKE_AFTER_SCAN)
	mpsafe_model_test(psref_broken_no_sleepers psref
	    expect-fail=deadlock -DBROKEN_NO_SLEEPERS)
	mpsafe_model_test(psref_broken_list_after_gp psref
	    expect-fail=deadlock -DBROKEN_LIST_AFTER_GP)
	# psref: tryend and a watched condition variable (the reaper's way).
	mpsafe_model_test(psref_tryend psref expect-pass -DTRYEND)
	mpsafe_model_test(psref_tryend_fence psref expect-pass
	    -DTRYEND -DFENCE_MODE)
	mpsafe_model_test(psref_broken_watch_unlocked psref
	    expect-fail=deadlock -DTRYEND -DBROKEN_WATCH_UNLOCKED)
	mpsafe_model_test(psref_broken_scan_unlocked psref
	    expect-fail=deadlock -DTRYEND -DBROKEN_SCAN_UNLOCKED)

	# localcount: the drain.
	mpsafe_model_test(localcount_membarrier localcount expect-pass)
	mpsafe_model_test(localcount_fence localcount expect-pass -DFENCE_MODE)
	mpsafe_model_test(localcount_no_perform localcount expect-pass
	    -DNO_PERFORM)
	mpsafe_model_test(localcount_broken_no_drain_gp localcount
	    expect-fail=deadlock -DBROKEN_NO_DRAIN_GP)
	mpsafe_model_test(localcount_broken_no_drain_gp_no_perform localcount
	    expect-fail=assert -DNO_PERFORM -DBROKEN_NO_DRAIN_GP)
	mpsafe_model_test(localcount_broken_no_read_section localcount
	    expect-fail=deadlock -DBROKEN_NO_READ_SECTION)
	mpsafe_model_test(localcount_broken_drain_wait_order localcount
	    expect-fail=deadlock -DBROKEN_DRAIN_WAIT_ORDER)
	mpsafe_model_test(localcount_broken_done_wake_first localcount
	    expect-fail=deadlock -DBROKEN_DONE_WAKE_FIRST)

	# localcount: a second drain of the same count (builds without
	# contract checks wait in it): every drainer must be woken.
	mpsafe_model_test(localcount_two_drainers_membarrier localcount
	    expect-pass -DTWO_DRAINERS)
	mpsafe_model_test(localcount_two_drainers_fence localcount
	    expect-pass -DTWO_DRAINERS -DFENCE_MODE)
	mpsafe_model_test(localcount_broken_fold_done_store localcount
	    expect-fail=deadlock -DTWO_DRAINERS -DBROKEN_FOLD_DONE_STORE)
	mpsafe_model_test(localcount_broken_done_sleepers_first localcount
	    expect-fail=deadlock -DTWO_DRAINERS -DBROKEN_DONE_SLEEPERS_FIRST)
	mpsafe_model_test(localcount_broken_sleepers_after_loads localcount
	    expect-fail=deadlock -DTWO_DRAINERS -DBROKEN_SLEEPERS_AFTER_LOADS)

	# workqueue: the worker's idle sleep and the waits for a batch.
	mpsafe_model_test(workqueue_two_clients workqueue expect-pass)
	mpsafe_model_test(workqueue_two_items workqueue expect-pass
	    -DNC=1 -DNITER=2)
	mpsafe_model_test(workqueue_broken_idle_no_fence workqueue
	    expect-fail=deadlock -DBROKEN_IDLE_NO_FENCE)
	mpsafe_model_test(workqueue_broken_enqueue_load_first workqueue
	    expect-fail=deadlock -DBROKEN_ENQUEUE_LOAD_FIRST)
	mpsafe_model_test(workqueue_broken_batch_end_no_fence workqueue
	    expect-fail=deadlock -DBROKEN_BATCH_END_NO_FENCE)
	mpsafe_model_test(workqueue_broken_no_waiters workqueue
	    expect-fail=deadlock -DBROKEN_NO_WAITERS)
	mpsafe_model_test(workqueue_broken_queued_target workqueue
	    expect-fail=assert -DBROKEN_QUEUED_TARGET)
	mpsafe_model_test(workqueue_broken_no_filter workqueue
	    expect-fail=assert -DBROKEN_NO_FILTER)

	# wqinput: one queue's ring (R1), activation (R2) and drain wake-up
	# (D1).  Wrap-around (a slot used twice) takes NP=1 NPKT=3.
	mpsafe_model_test(wqinput wqinput expect-pass)
	mpsafe_model_test(wqinput_wrap wqinput expect-pass -DNP=1 -DNPKT=3)
	mpsafe_model_test(wqinput_wrap_limit1 wqinput expect-pass
	    -DNP=1 -DNPKT=3 -DLIMIT=1)
	mpsafe_model_test(wqinput_two_drainers wqinput expect-pass
	    -DNP=1 -DNPKT=2 -DND=2)
	mpsafe_model_test(wqinput_broken_limit_plus_one wqinput
	    expect-fail=assert -DNP=1 -DNPKT=3 -DBROKEN_LIMIT_PLUS_ONE)
	mpsafe_model_test(wqinput_broken_dec_before_free wqinput
	    expect-fail=assert -DNP=1 -DNPKT=3 -DBROKEN_DEC_BEFORE_FREE)
	mpsafe_model_test(wqinput_broken_fill_no_fence wqinput
	    expect-fail=deadlock -DBROKEN_FILL_NO_FENCE)
	mpsafe_model_test(wqinput_broken_clear_no_fence wqinput
	    expect-fail=deadlock -DBROKEN_CLEAR_NO_FENCE)
	mpsafe_model_test(wqinput_broken_processed_no_fence wqinput
	    expect-fail=deadlock -DBROKEN_PROCESSED_NO_FENCE)
	mpsafe_model_test(wqinput_broken_drain_at_no_fence wqinput
	    expect-fail=deadlock -DBROKEN_DRAIN_AT_NO_FENCE)
	mpsafe_model_test(wqinput_broken_wake_unlocked wqinput
	    expect-fail=deadlock -DBROKEN_WAKE_UNLOCKED)
	# A one-slot ring (wqinput.c before 2026-12-03): the same overrun
	# escapes R1's check and loses a packet.
	mpsafe_model_test(wqinput_one_slot_overrun_unseen wqinput
	    expect-fail=deadlock -DNP=1 -DNPKT=3 -DLIMIT=1 -DONE_SLOT
	    -DBROKEN_LIMIT_PLUS_ONE)

	# defer: the reclaimer's sleep against defer_push().
	mpsafe_model_test(defer defer expect-pass)
	mpsafe_model_test(defer_three_producers defer expect-pass -DNP=3)
	mpsafe_model_test(defer_two_objects_each defer expect-pass -DNOBJ=2)
	mpsafe_model_test(defer_idle_no_fence_x86 defer expect-pass
	    -DBROKEN_IDLE_NO_FENCE)
	mpsafe_model_test(defer_broken_push_load_first defer
	    expect-fail=deadlock -DBROKEN_PUSH_LOAD_FIRST)
	mpsafe_model_test(defer_broken_signal_unlocked defer
	    expect-fail=deadlock -DBROKEN_SIGNAL_UNLOCKED)
	mpsafe_model_test(defer_broken_check_before_idle defer
	    expect-fail=deadlock -DBROKEN_CHECK_BEFORE_IDLE)

	# lpm: a lookup that reads the short node against the writer.
	mpsafe_model_test(lpm_short lpm_short expect-pass)
	mpsafe_model_test(lpm_short_long lpm_short expect-pass
	    -DNUPD=12 -DNLOOKUP=3)
	mpsafe_model_test(lpm_short_broken_short_at_once lpm_short
	    expect-fail=assert -DBROKEN_SHORT_AT_ONCE)
	mpsafe_model_test(lpm_short_broken_no_second_walk lpm_short
	    expect-fail=assert -DBROKEN_NO_SECOND_WALK)
	mpsafe_model_test(lpm_short_broken_no_recheck lpm_short
	    expect-fail=assert -DBROKEN_NO_RECHECK)

	# route: a lookup that waits for an RTM_CHANGE to end.
	mpsafe_model_test(route_update route_update expect-pass)
	mpsafe_model_test(route_update_three_waiters route_update expect-pass
	    -DNW=3)
	mpsafe_model_test(route_update_broken_flag_before_done route_update
	    expect-fail=deadlock -DBROKEN_FLAG_BEFORE_DONE)
	mpsafe_model_test(route_update_broken_wake_first route_update
	    expect-fail=deadlock -DBROKEN_WAKE_FIRST)
	mpsafe_model_test(route_update_broken_no_waiters route_update
	    expect-fail=deadlock -DBROKEN_NO_WAITERS)
	mpsafe_model_test(route_update_broken_wake_unlocked route_update
	    expect-fail=deadlock -DBROKEN_WAKE_UNLOCKED)

	# route: the reaper's sleeps against deleters, counts and psrefs.
	mpsafe_model_test(route_reap route_reap expect-pass)
	mpsafe_model_test(route_reap_convert route_reap expect-pass -DCONVERT)
	mpsafe_model_test(route_reap_pin route_reap expect-pass -DPIN)
	mpsafe_model_test(route_reap_pin_three route_reap expect-pass
	    -DNE=3 -DPIN)
	mpsafe_model_test(route_reap_no_drain_list route_reap expect-pass
	    -DDRAINS=0 -DHPSREF=3)
	mpsafe_model_test(route_reap_destroy route_reap expect-pass
	    -DDESTROY -DCONVERT)
	mpsafe_model_test(route_reap_broken_no_recount route_reap
	    expect-fail=assert -DBROKEN_NO_RECOUNT)
	mpsafe_model_test(route_reap_broken_stick_no_wait route_reap
	    expect-fail=assert -DBROKEN_STICK_NO_WAIT)
	mpsafe_model_test(route_reap_broken_drains_unlocked route_reap
	    expect-fail=assert -DBROKEN_DRAINS_UNLOCKED)
	mpsafe_model_test(route_reap_broken_kick_reap_cv route_reap
	    expect-fail=assert -DBROKEN_KICK_REAP_CV -DPIN)
	mpsafe_model_test(route_reap_broken_lock_order route_reap
	    expect-fail=deadlock -DBROKEN_LOCK_ORDER)
	mpsafe_model_test(route_reap_broken_inactive_late route_reap
	    expect-fail=assert -DBROKEN_INACTIVE_LATE)
endif()
