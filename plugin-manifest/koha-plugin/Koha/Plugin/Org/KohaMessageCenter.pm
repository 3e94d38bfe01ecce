package Koha::Plugin::Org::KohaMessageCenter;

# The host side of the Message Center. It shows the sidecar's staff pages
# inside Koha (Tools, Administration, and a tab on the patron's page), each
# in an iframe that opens with a fresh signed launch token, and it keeps the
# sidecar's address and the shared secret (Configure).
#
# Enabling and disabling is Koha's own plugin toggle: Koha writes
# plugin_data.__ENABLED__ for this class, and the sidecar reads that row
# before every run and every delivery batch.
#
# The {PLACEHOLDERS} below are filled in from plugin-manifest/manifest.json
# and package.json by `npm run package:kpz`; so is manifest.json beside this
# file, which holds the page list.

use strict;
use warnings;

use base qw(Koha::Plugins::Base);

use C4::Context;
use C4::Auth ();
use JSON::PP ();

use Koha::Plugin::Org::KohaMessageCenter::LaunchToken qw(make_launch_token launch_url);
use Koha::Plugin::Org::KohaMessageCenter::Pages;

our $VERSION = '{VERSION}';

our $metadata = {
    name            => '{NAME}',
    author          => '{AUTHOR}',
    description     => '{DESCRIPTION}',
    date_authored   => '{DATE_AUTHORED}',
    date_updated    => '{DATE_UPDATED}',
    minimum_version => '{MINIMUM_VERSION}',
    maximum_version => '{MAXIMUM_VERSION}',
    version         => $VERSION,
};

# The same minimum length the sidecar asks of KMC_SECRET.
use constant MIN_SECRET_LENGTH => 16;

sub new {
    my ( $class, $args ) = @_;
    $args->{metadata} = { %$metadata, class => $class };
    return $class->SUPER::new($args);
}

sub pages {
    my ($self) = @_;
    $self->{kmc_pages} ||= Koha::Plugin::Org::KohaMessageCenter::Pages->load( $self->mbf_path('manifest.json') );
    return $self->{kmc_pages};
}

sub sidecar_url {
    my ($self) = @_;
    my $url = $self->retrieve_data('sidecar_url');
    return ( defined $url && length $url ) ? $url : $self->pages->base_url;
}

# The shared secret: from koha-conf.xml (<message_center_secret>) when it is
# there, else as Configure stored it. koha-conf.xml is for system
# administrators only, whereas plugin_data can be read by anyone who may
# write SQL reports, and the secret lets its holder sign in as any staff member.
sub _secret_in_conf {
    my $secret = C4::Context->config('message_center_secret');
    return ( defined $secret && !ref($secret) && length $secret ) ? $secret : undef;
}

sub _secret {
    my ($self) = @_;
    my $secret = _secret_in_conf() // $self->retrieve_data('secret');
    return ( defined $secret && length $secret ) ? $secret : undef;
}

# Whether the signed-in staff member holds any one of the page's Koha
# permissions, each as Koha's checks take it: { tools => 'edit_notices' },
# { tools => '*' } or { tools => 1 }. Asked one by one, because not every
# Koha version takes a list of alternatives.
sub may_open {
    my ( $self, $page ) = @_;
    my $env = C4::Context->userenv or return 0;
    return 0 unless $env->{id};
    for my $alternative ( @{ $page->{permission} } ) {
        return 1 if C4::Auth::haspermission( $env->{id}, {%$alternative} );
    }
    return 0;
}

# Tools > Message Center. Lists the tools pages and, for Koha versions
# without administration plugins (before 24.05), the administration pages.
# Also answers the patron tab (page=patron_messages&borrowernumber=N).
sub tool {
    my ($self) = @_;
    return $self->_show( 'tool', [qw(tools administration)], ['patron_tab'] );
}

# Administration > Message Center (Koha 24.05 and later list it there).
sub admin {
    my ($self) = @_;
    return $self->_show( 'admin', ['administration'], [] );
}

sub _show {
    my ( $self, $method, $listed, $reachable ) = @_;
    my $cgi   = $self->{cgi};
    my $pages = $self->pages;
    my @menu  = grep { $self->may_open($_) } $pages->in(@$listed);

    my $page;
    my $asked = $cgi->param('page');
    if ( defined $asked && length $asked ) {
        $page = $pages->find($asked);
        my %here = map { $_ => 1 } @$listed, @$reachable;
        return $self->_problem( $method, \@menu, 'unknown_page' ) unless $page && $here{ $page->{shows} };
        return $self->_problem( $method, \@menu, 'no_permission', $page ) unless $self->may_open($page);
    }
    else {
        $page = $menu[0] or return $self->_problem( $method, \@menu, 'no_pages' );
    }

    my $secret = $self->_secret;
    return $self->_problem( $method, \@menu, 'not_configured', $page ) unless defined $secret;
    my $staff = ( C4::Context->userenv || {} )->{number};
    # Koha's database user (from koha-conf.xml) has no borrowernumber to sign for.
    return $self->_problem( $method, \@menu, 'no_staff_account', $page )
      unless defined $staff && $staff =~ /\A[1-9][0-9]{0,9}\z/;

    my %values = map { $_ => scalar $cgi->param($_) } $pages->needs($page);
    my $path   = eval { $pages->path_for( $page, \%values ) };
    return $self->_problem( $method, \@menu, 'bad_request', $page ) unless defined $path;

    my $url = launch_url( $self->sidecar_url, make_launch_token( $secret, $staff ), $path, $pages->launch_path, $self->_staff_language );

    if ( $cgi->param('launch') ) {
        # The patron tab's iframe comes here only when staff open the tab,
        # so its token is made then, not when the patron page was drawn.
        print $cgi->redirect( -uri => $url, -status => '302 Found', -Cache_Control => 'no-store' );
        return;
    }

    my $template = $self->get_template( { file => 'page.tt' } );
    $template->param(
        area         => $method,
        plugin_class => ref($self),
        title        => $pages->title,
        menu         => \@menu,
        current      => $page,
        iframe_src   => $url,
        values       => \%values,
    );
    $self->output_html( $template->output() );
    return;
}

# The language Koha shows this staff member (e.g. sv-SE); none if Koha cannot say.
sub _staff_language {
    my ($self) = @_;
    my $lang = eval { require C4::Languages; C4::Languages::getlanguage( $self->{cgi} ) };
    return $lang;
}

sub _problem {
    my ( $self, $method, $menu, $problem, $page ) = @_;
    my $template = $self->get_template( { file => 'page.tt' } );
    $template->param(
        area         => $method,
        plugin_class => ref($self),
        title        => $self->pages->title,
        menu         => $menu,
        current      => $page,
        problem      => $problem,
    );
    $self->output_html( $template->output(), $problem eq 'no_permission' ? '403 Forbidden' : undef );
    return;
}

# Configure: the sidecar's address and the shared secret (KMC_SECRET on the
# sidecar's side). The secret is never shown again; an empty field keeps it.
sub configure {
    my ($self) = @_;
    my $cgi = $self->{cgi};
    my %shown = ( sidecar_url => $self->sidecar_url );
    my @errors;
    my $saved = 0;

    if ( ( $cgi->param('op') // '' ) eq 'cud-save' ) {
        my $url    = $cgi->param('sidecar_url') // '';
        my $secret = $cgi->param('secret') // '';
        $url =~ s/\A\s+|\s+\z//g;
        $url =~ s{/+\z}{};
        $shown{sidecar_url} = $url;
        push @errors, 'sidecar_url'
          unless $url =~ m{\Ahttps?://[A-Za-z0-9.\-\[\]:]+(?:/[A-Za-z0-9_\-./~%]*)?\z};
        if ( defined _secret_in_conf() ) {
            $secret = '';    # koha-conf.xml decides; nothing to store
        }
        elsif ( length $secret ) {
            push @errors, 'secret_short' if length($secret) < MIN_SECRET_LENGTH;
            push @errors, 'secret_long'  if length($secret) > 1000;
        }
        elsif ( !defined $self->_secret ) {
            push @errors, 'secret_missing';
        }
        unless (@errors) {
            my %data = ( sidecar_url => $url );
            $data{secret} = $secret if length $secret;
            $self->store_data( \%data );
            $saved = 1;
        }
    }

    my $template = $self->get_template( { file => 'configure.tt' } );
    $template->param(
        plugin_class     => ref($self),
        title            => $self->pages->title,
        sidecar_url      => $shown{sidecar_url},
        secret_set       => defined( $self->_secret ) ? 1 : 0,
        secret_in_conf   => defined( _secret_in_conf() ) ? 1 : 0,
        suggested_secret => Koha::Plugin::Org::KohaMessageCenter::LaunchToken::random_nonce()
          . Koha::Plugin::Org::KohaMessageCenter::LaunchToken::random_nonce(),
        min_secret       => MIN_SECRET_LENGTH,
        errors           => { map { $_ => 1 } @errors },
        saved            => $saved,
        pages            => [ $self->pages->all ],
    );
    $self->output_html( $template->output() );
    return;
}

sub install {
    my ($self) = @_;
    # Start from the manifest's address; Configure changes it.
    $self->store_data( { sidecar_url => $self->pages->base_url } )
      unless defined $self->retrieve_data('sidecar_url');
    return 1;
}

sub upgrade {
    return 1;
}

# Koha removes this plugin's plugin_data rows itself; the sidecar's own
# kmc_ tables and messages stay: they are the library's record.
sub uninstall {
    return 1;
}

# Koha has no patron-page tab hook for plugins (only
# intranet_catalog_biblio_tab for records), so this script adds the tab on
# the patron's page (moremember.pl) and an entry in the patron menu on every
# patron page. Nothing here holds a token: the tab's iframe asks the tool
# page (launch=1) for one when it is opened.
sub intranet_js {
    my ($self) = @_;
    my ($page) = $self->pages->in('patron_tab');
    return '' unless $page && defined $self->_secret && $self->may_open($page);

    my $config = JSON::PP->new->ascii->canonical->encode(
        {
            pluginClass => ref($self),
            pageId      => $page->{id},
            title       => $page->{title},
            menuTitle   => $page->{title} . ' (' . $self->pages->title . ')',
            runUrl      => '/cgi-bin/koha/plugins/run.pl',
        }
    );
    # Safe inside <script>: no tag or entity can be formed from the JSON.
    $config =~ s/</\\u003c/g;
    $config =~ s/>/\\u003e/g;
    $config =~ s/&/\\u0026/g;

    open( my $fh, '<:encoding(UTF-8)', $self->mbf_path('patron-tab.js') ) or return '';
    local $/;
    my $script = <$fh>;
    close($fh);
    return "<script>\n$script\nkmcPatronTab($config);\n</script>\n";
}

1;
