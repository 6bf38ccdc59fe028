/**
 * An http:// image read by rclone instead of httpfs2 (build --http-client rclone): the choice for a
 * box that must see I/O errors, not wait, when its server stalls. The good boot of the shared
 * catalogue (test/helpers/net-image.ts) with that client; the faults at boot are the same code as
 * for https:// and are run there.
 */
import { describeImageLower } from '../helpers/net-image.js';

describeImageLower('http-rclone', {});
