# needs: module-groups=storage
# Loads the modules the build listed (filesystems, loop, overlay) and coldplugs hardware from
# the modaliases sysfs shows; the medium wait repeats the coldplug as devices keep appearing.

FR_SEEN_ALIASES=""

fr_coldplug() {
	for fr_f in /sys/bus/*/devices/*/modalias; do
		[ -r "$fr_f" ] || continue
		read -r fr_alias <"$fr_f" || continue
		case "$FR_SEEN_ALIASES" in *" $fr_alias "*) continue ;; esac
		FR_SEEN_ALIASES="$FR_SEEN_ALIASES $fr_alias "
		modprobe -q "$fr_alias" 2>/dev/null
	done
	return 0
}

fr_step_modules() {
	# Some modules refuse hardware that is absent (CPU crypto, controllers); the steps that need a
	# module report its absence when they fail, so only debug mode lists these.
	for fr_m in $FR_MODULES; do
		modprobe -q "$fr_m" 2>/dev/null || fr_debug "module $fr_m not loaded"
	done
	fr_coldplug
}
