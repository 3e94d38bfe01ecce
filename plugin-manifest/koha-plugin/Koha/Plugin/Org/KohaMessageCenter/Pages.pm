package Koha::Plugin::Org::KohaMessageCenter::Pages;

# The sidecar's pages as plugin-manifest/manifest.json lists them (the
# packaging script copies it next to this file as manifest.json): which
# page shows where in Koha, and which Koha permission it needs.
#
# Core Perl modules only, so it runs (and is tested) without Koha.

use strict;
use warnings;

use JSON::PP ();

my %AREAS = map { $_ => 1 } qw(tools administration patron_tab);

sub load {
    my ( $class, $path ) = @_;
    open( my $fh, '<:raw', $path )
      or die "Message Center: cannot read the page list $path: $!\n";
    local $/;
    my $json = <$fh>;
    close($fh);
    my $manifest = eval { JSON::PP->new->utf8->decode($json) };
    die "Message Center: the page list $path is not JSON: $@" unless $manifest;
    return $class->new($manifest);
}

sub new {
    my ( $class, $manifest ) = @_;
    die "Message Center: the page list has no pages\n"
      unless ref($manifest) eq 'HASH' && ref( $manifest->{pages} ) eq 'ARRAY' && @{ $manifest->{pages} };
    my %seen;
    for my $page ( @{ $manifest->{pages} } ) {
        my $id = $page->{id} // '';
        die "Message Center: a page id must be lower case letters, digits and _ (got '$id')\n"
          unless $id =~ /\A[a-z][a-z0-9_]*\z/;
        die "Message Center: page $id is listed twice\n" if $seen{$id}++;
        die "Message Center: page $id shows in an unknown place\n" unless $AREAS{ $page->{shows} // '' };
        die "Message Center: page $id has no path on the sidecar\n"
          unless ( $page->{path} // '' ) =~ m{\A/(?!/)[A-Za-z0-9_\-./{}]*\z};
        die "Message Center: page $id needs a list of Koha permissions\n"
          unless ref( $page->{permission} ) eq 'ARRAY' && @{ $page->{permission} }
          && !grep { ref($_) ne 'HASH' || keys(%$_) != 1 } @{ $page->{permission} };
    }
    return bless { manifest => $manifest }, $class;
}

sub base_url    { return $_[0]{manifest}{baseUrl} }
sub launch_path { return ( $_[0]{manifest}{launch} // {} )->{path} // '/launch' }
sub title       { return $_[0]{manifest}{title} // 'Message Center' }
sub all         { return @{ $_[0]{manifest}{pages} } }

# Pages that show in any of the given places, in the manifest's order.
sub in {
    my ( $self, @areas ) = @_;
    my %wanted = map { $_ => 1 } @areas;
    return grep { $wanted{ $_->{shows} } } $self->all;
}

sub find {
    my ( $self, $id ) = @_;
    return unless defined $id;
    my ($page) = grep { $_->{id} eq $id } $self->all;
    return $page;
}

# The page's path with its {placeholders} filled in; dies when one is
# missing or is not a whole number (all of them are Koha ids).
sub path_for {
    my ( $self, $page, $values ) = @_;
    $values ||= {};
    my $path = $page->{path};
    $path =~ s{\{([a-z_]+)\}}{
        my $v = $values->{$1};
        die "Message Center: page $page->{id} needs $1\n" unless defined $v && $v =~ /\A[1-9][0-9]{0,9}\z/;
        $v;
    }ge;
    return $path;
}

sub needs {
    my ( $self, $page ) = @_;
    my @names;
    push @names, $1 while $page->{path} =~ /\{([a-z_]+)\}/g;
    return @names;
}

1;
