package Koha::Plugin::Org::KohaMessageCenter::LaunchToken;

# The signed launch token that hands a staff member from Koha to the
# Message Center sidecar:
#
#   v1.<borrowernumber>.<expires>.<nonce>.<signature>
#
# signature = lowercase hex HMAC-SHA256, keyed with the shared secret as
# UTF-8, over the text before the last dot. The sidecar checks it in
# sidecar/web/auth/launch-token.ts and accepts each nonce once.
#
# Core Perl modules only, so it runs (and is tested) without Koha.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_hex);
use Encode ();
use Exporter qw(import);

our @EXPORT_OK = qw(make_launch_token random_nonce safe_next launch_url uri_escape_utf8 TOKEN_LIFETIME);

# Long enough for an iframe to load; the sidecar refuses more than 300 s.
use constant TOKEN_LIFETIME => 120;

sub _random_bytes {
    my ($count) = @_;
    if ( open( my $fh, '<:raw', '/dev/urandom' ) ) {
        my $bytes = '';
        while ( length($bytes) < $count ) {
            my $read = sysread( $fh, $bytes, $count - length($bytes), length($bytes) );
            last unless $read;
        }
        close($fh);
        return $bytes if length($bytes) == $count;
    }
    # No /dev/urandom (a chroot, another system): Koha installs
    # Bytes::Random::Secure, which has its own strong sources.
    if ( eval { require Bytes::Random::Secure; 1 } ) {
        return Bytes::Random::Secure::random_bytes($count);
    }
    die "Message Center: no source of random bytes (/dev/urandom cannot be read and Bytes::Random::Secure is missing)\n";
}

# 16 random bytes as 32 lowercase hex characters.
sub random_nonce {
    return unpack( 'H*', _random_bytes(16) );
}

# make_launch_token($secret, $borrowernumber, $now_seconds, $nonce_hex)
# $now_seconds defaults to time(), $nonce_hex to a fresh random nonce.
sub make_launch_token {
    my ( $secret, $borrowernumber, $now, $nonce ) = @_;
    die "Message Center: the shared secret is not set\n"
      unless defined $secret && length $secret;
    die "Message Center: a launch token needs the staff member's borrowernumber\n"
      unless defined $borrowernumber && $borrowernumber =~ /\A[1-9][0-9]{0,9}\z/;
    $now = time() unless defined $now;
    die "Message Center: the time must be whole seconds\n" unless $now =~ /\A[0-9]+\z/;
    $nonce = random_nonce() unless defined $nonce;
    die "Message Center: the nonce must be 32 lowercase hex characters\n"
      unless $nonce =~ /\A[0-9a-f]{32}\z/;

    my $payload = join( '.', 'v1', $borrowernumber, $now + TOKEN_LIFETIME, $nonce );
    # A character string (as Koha's database handle returns it) is encoded;
    # a byte string is taken to be UTF-8 already.
    my $key = utf8::is_utf8($secret) ? Encode::encode( 'UTF-8', $secret ) : $secret;
    return $payload . '.' . hmac_sha256_hex( $payload, $key );
}

# The path on the sidecar to open after sign-in; anything that could leave
# the sidecar (a scheme, //host, a backslash, control characters) becomes /.
sub safe_next {
    my ($next) = @_;
    return '/' unless defined $next && length($next) && length($next) <= 2000;
    return '/' unless $next =~ m{\A/} && $next !~ m{\A//};
    return '/' if $next =~ /[\\\x00-\x1f\x7f]/;
    return $next;
}

# Percent-encodes everything but the unreserved characters of RFC 3986.
sub uri_escape_utf8 {
    my ($text) = @_;
    my $bytes = utf8::is_utf8($text) ? Encode::encode( 'UTF-8', $text ) : $text;
    $bytes =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord($1))/ge;
    return $bytes;
}

# launch_url($sidecar_base_url, $token, $next_path, $launch_path, $lang)
# $lang (optional) is the language Koha's staff interface shows, so the
# sidecar's page can match the page around it.
sub launch_url {
    my ( $base, $token, $next, $launch_path, $lang ) = @_;
    $launch_path = '/launch' unless defined $launch_path;
    ( my $root = $base ) =~ s{/+\z}{};
    my $url = $root . $launch_path . '?token=' . uri_escape_utf8($token) . '&next=' . uri_escape_utf8( safe_next($next) );
    $url .= '&lang=' . uri_escape_utf8($lang) if defined $lang && $lang =~ /\A[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*\z/;
    return $url;
}

1;
