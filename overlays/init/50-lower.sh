# needs: module-groups=fs
# The read-only lower layer, mounted at /run/flashroot/lower by the fr_lower_KIND function of
# the kind flashroot.lower names (local: 51-lower-local.sh; others in their own fragments).

fr_lower_kind() {
	case "$FR_LOWER" in
	*://*) echo "${FR_LOWER%%://*}" ;;
	*) echo "$FR_LOWER" ;;
	esac
}

fr_step_lower() {
	fr_break_point premount
	mkdir -p /run/flashroot/lower
	fr_kind=$(fr_lower_kind)
	case "$fr_kind" in
	*[!a-z0-9_]* | '') fr_fail lower "unknown lower layer '$FR_LOWER'" "use flashroot.lower=local" ;;
	esac
	command -v "fr_lower_$fr_kind" >/dev/null ||
		fr_fail lower "this initramfs has no support for lower layer '$fr_kind'" "rebuild with flashroot build --lower $FR_LOWER"
	"fr_lower_$fr_kind"
}
