# nbdkit plugin (nbdkit-perl-plugin): one S3 object as a read-only disk, each read one ranged GET
# that libcurl signs itself (SigV4: CURLOPT_AWS_SIGV4, per request, so the method and the time
# are always the ones signed). nbdkit's curl plugin cannot sign and rclone's start costs seconds
# under emulation (README, issue 19); this starts in ~40 ms natively.
#
#   nbdkit -s --readonly perl script=s3-reader.pl url=URL [credentials=CURLRC] [cainfo=PEM]
#
# url: the object, path-style. credentials: a curl config file (`user`, `aws-sigv4` and `header`
# lines, as flashroot build writes it for curl's -K), so the key is never on a command line; none:
# unsigned reads of a public object. nbdkit must run with -s (the connection on its own stdin and
# stdout, in its main thread): WWW::Curl calls back into Perl from libcurl without Perl's thread
# context, which nbdkit's other threads lack (a segfault in libperl).
use strict;
use warnings;
use WWW::Curl::Easy;

my %conf;
my @signing;

sub config {
    my ($key, $value) = @_;
    die "unknown parameter $key (url, credentials, cainfo)\n" unless $key =~ /^(url|credentials|cainfo)$/;
    $conf{$key} = $value;
}

sub config_complete {
    die "url= is required\n" unless $conf{url};
    return unless $conf{credentials};
    my %seen;
    open(my $fh, '<', $conf{credentials}) or die "cannot read $conf{credentials}: $!\n";
    while (my $line = <$fh>) {
        next unless $line =~ /^(user|aws-sigv4|header) = "([^"\\]*)"$/;
        $seen{$1} = 1;
        push @signing,
            $1 eq 'user' ? [CURLOPT_USERPWD, $2] : $1 eq 'aws-sigv4' ? [CURLOPT_AWS_SIGV4, $2] : [CURLOPT_HTTPHEADER, [$2]];
    }
    close($fh);
    die "$conf{credentials} lacks a user or aws-sigv4 line\n" unless $seen{user} && $seen{'aws-sigv4'};
}

# Bytes $from to $from + $count - 1 of the object, and the answer's headers; dies with the
# server's refusal (S3's error code) or curl's error.
sub fetch {
    my ($curl, $from, $count) = @_;
    my ($body, $headers) = ('', '');
    $curl->setopt(CURLOPT_RANGE, $from . '-' . ($from + $count - 1));
    $curl->setopt(CURLOPT_WRITEDATA, \$body);
    $curl->setopt(CURLOPT_WRITEHEADER, \$headers);
    my $rc = $curl->perform;
    die "GET $conf{url}: " . $curl->strerror($rc) . "\n" if $rc;
    my $status = $curl->getinfo(CURLINFO_HTTP_CODE);
    if ($status != 206) {
        my ($code) = $body =~ m{<Code>([^<]*)</Code>};
        die "GET $conf{url}: HTTP $status" . ($code ? " $code" : '') . "\n";
    }
    die "GET $conf{url}: " . length($body) . " bytes for $count\n" unless length($body) == $count;
    return ($body, $headers);
}

sub open {
    my $curl = WWW::Curl::Easy->new;
    my ($scheme) = $conf{url} =~ m{^(https?)://} or die "url=$conf{url}: not http:// or https://\n";
    $curl->setopt(CURLOPT_URL, $conf{url});
    # No redirects (libcurl's default) and no other protocol: the signed request goes where it was meant to.
    $curl->setopt(CURLOPT_PROTOCOLS, $scheme eq 'https' ? CURLPROTO_HTTPS : CURLPROTO_HTTP);
    $curl->setopt(CURLOPT_CAINFO, $conf{cainfo}) if $conf{cainfo};
    # A refused server is an error at once, a stalled one after 10 s (as https's curl plugin).
    $curl->setopt(CURLOPT_CONNECTTIMEOUT, 5);
    $curl->setopt(CURLOPT_TIMEOUT, 10);
    $curl->setopt(@$_) for @signing;
    # The first byte asks what a HEAD would (is it there, may this key read it) and gives the size,
    # in one GET: a HEAD would need a signature of its own, and S3 says why it refuses only in a body.
    my (undef, $headers) = fetch($curl, 0, 1);
    my ($size) = $headers =~ m{^content-range: bytes 0-0/(\d+)\r?$}mi
        or die "GET $conf{url}: the answer gives no size (Content-Range)\n";
    return { curl => $curl, size => $size };
}

sub get_size {
    my ($h) = @_;
    return $h->{size};
}

sub pread {
    my ($h, $count, $offset) = @_;
    my ($body) = fetch($h->{curl}, $offset, $count);
    return $body;
}
