/**
 * The Koha plugin as shipped: `npm run package:kpz` builds the .kpz, which is
 * read back (by our own reader and by Perl's), and the plugin inside it runs
 * under the machine's perl. Koha itself is not installed here, so the few
 * Koha modules the plugin calls (the plugin base class, the user
 * environment, the permission check, the language) are small stand-ins
 * written below; everything of ours runs as packaged.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  buildKpz,
  createZip,
  crc32,
  fillPluginModule,
  readManifest,
  readZip,
  validateManifest,
  ManifestError,
  PackageError,
  REPO_ROOT,
  type Manifest,
} from '../../scripts/package-kpz';
import { chromium, type Browser } from 'playwright-core';
import { verifyLaunchToken, type LaunchTokenCheck } from '../../sidecar/web/auth/launch-token';

const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const SECRET = 'the library and the sidecar share this, åäö';

const EXPECTED_ENTRIES = [
  'Koha/',
  'Koha/Plugin/',
  'Koha/Plugin/Org/',
  'Koha/Plugin/Org/KohaMessageCenter/',
  'Koha/Plugin/Org/KohaMessageCenter/i18n/',
  'Koha/Plugin/Org/KohaMessageCenter.pm',
  'Koha/Plugin/Org/KohaMessageCenter/LaunchToken.pm',
  'Koha/Plugin/Org/KohaMessageCenter/Pages.pm',
  'Koha/Plugin/Org/KohaMessageCenter/configure.tt',
  'Koha/Plugin/Org/KohaMessageCenter/i18n/en.json',
  'Koha/Plugin/Org/KohaMessageCenter/i18n/sv.json',
  'Koha/Plugin/Org/KohaMessageCenter/manifest.json',
  'Koha/Plugin/Org/KohaMessageCenter/page.tt',
  'Koha/Plugin/Org/KohaMessageCenter/patron-tab.js',
];

// ------------------------------------------------------------ Koha stand-ins

const STANDINS: Record<string, string> = {
  'Koha/Plugins/Base.pm': String.raw`package Koha::Plugins::Base;
# Stand-in for Koha's plugin base class: what the Message Center plugin calls.
# plugin_data lives in a JSON file; templates return their parameters as JSON.
use strict;
use warnings;
use JSON::PP ();
my $json = JSON::PP->new->canonical->utf8;
sub new { my ( $class, $args ) = @_; return bless {%$args}, $class; }
sub _data {
    my $file = $ENV{KMC_STANDIN_PLUGIN_DATA};
    return {} unless -s $file;
    open( my $fh, '<:raw', $file ) or die "$file: $!";
    local $/;
    return $json->decode(<$fh>);
}
# Each call is one query in Koha; the tests count them.
sub count_query {
    return unless $ENV{KMC_STANDIN_QUERIES};
    open( my $fh, '>>', $ENV{KMC_STANDIN_QUERIES} ) or die $!;
    print $fh "$_[0]\n";
    close($fh);
}
sub retrieve_data { my ( $self, $key ) = @_; count_query("plugin_data $key"); return _data()->{$key}; }
sub store_data {
    my ( $self, $pairs ) = @_;
    my $data = _data();
    $data->{$_} = $pairs->{$_} for keys %$pairs;
    open( my $fh, '>:raw', $ENV{KMC_STANDIN_PLUGIN_DATA} ) or die $!;
    print $fh $json->encode($data);
    close($fh);
}
sub mbf_path {
    my ( $self, $file ) = @_;
    count_query("file $file");
    ( my $dir = $INC{'Koha/Plugin/Org/KohaMessageCenter.pm'} ) =~ s/\.pm\z//;
    return "$dir/$file";
}
sub get_template {
    my ( $self, $args ) = @_;
    die "no template $args->{file} in the plugin\n" unless -f $self->mbf_path( $args->{file} );
    return bless { file => $args->{file}, params => {} }, 'Koha::Plugins::Base::Template';
}
sub output_html {
    my ( $self, $html, $status ) = @_;
    print $json->encode( { kind => 'html', status => $status // '200 OK', page => $json->decode($html) } );
}
package Koha::Plugins::Base::Template;
sub param { my ( $self, %p ) = @_; @{ $self->{params} }{ keys %p } = values %p; return; }
sub output { my ($self) = @_; return $json->encode( { file => $self->{file}, params => $self->{params} } ); }
1;
`,
  'C4/Context.pm': String.raw`package C4::Context;
use strict;
use warnings;
use JSON::PP ();
sub userenv { return $ENV{KMC_STANDIN_USERENV} ? JSON::PP::decode_json( $ENV{KMC_STANDIN_USERENV} ) : undef; }
sub config { my ( $class, $key ) = @_; return JSON::PP::decode_json( $ENV{KMC_STANDIN_CONF} || '{}' )->{$key}; }
sub preference { my ( $class, $key ) = @_; return JSON::PP::decode_json( $ENV{KMC_STANDIN_PREFS} || '{}' )->{$key}; }
1;
`,
  'C4/Auth.pm': String.raw`package C4::Auth;
# Koha's rule: { module => 'code' } is that sub-permission or the whole module,
# { module => '*' } any of the module, { module => 1 } the whole module only;
# superlibrarian grants everything. Granted here as 'module' or 'module:code'.
use strict;
use warnings;
use JSON::PP ();
sub haspermission {
    my ( $userid, $required ) = @_;
    Koha::Plugins::Base::count_query('permissions') if defined &Koha::Plugins::Base::count_query;
    my $all = JSON::PP::decode_json( $ENV{KMC_STANDIN_PERMISSIONS} || '{}' );
    my %granted = map { $_ => 1 } @{ $all->{ $userid // '' } || [] };
    return 1 if $granted{superlibrarian};
    for my $module ( keys %$required ) {
        my $code = $required->{$module};
        next if $granted{$module};
        return 0 if $code eq '1';
        my $has = $code eq '*' ? scalar( grep { index( $_, "$module:" ) == 0 } keys %granted ) : $granted{"$module:$code"};
        return 0 unless $has;
    }
    return 1;
}
1;
`,
  'C4/Languages.pm': String.raw`package C4::Languages;
sub getlanguage { return $ENV{KMC_STANDIN_LANG}; }
1;
`,
  'run-plugin.pl': String.raw`use strict;
use warnings;
use JSON::PP ();
package StandIn::CGI;
sub new { my ( $class, $params ) = @_; return bless {%$params}, $class; }
sub param { my ( $self, $name ) = @_; return $self->{$name}; }
sub redirect { my ( $self, %args ) = @_; return JSON::PP->new->canonical->encode( { kind => 'redirect', %args } ); }
# A file the plugin serves: the header as JSON, a blank line, then the body as printed.
sub header { my ( $self, %args ) = @_; return JSON::PP->new->canonical->encode( { kind => 'file', %args } ) . "\n\n"; }
package main;
require Koha::Plugin::Org::KohaMessageCenter;
my ( $method, $params ) = @ARGV;
my $plugin = Koha::Plugin::Org::KohaMessageCenter->new( { cgi => StandIn::CGI->new( JSON::PP::decode_json($params) ) } );
my $value = $plugin->$method();
print JSON::PP->new->canonical->encode( { kind => 'returned', value => $value, metadata => $plugin->{metadata} } )
  if $method =~ /\A(?:intranet_js|install|upgrade|uninstall)\z/;
`,
};

interface Staff {
  id: string;
  number: number | null;
  permissions: string[];
}

const ANNA: Staff = { id: 'anna', number: 51, permissions: ['tools:edit_notice_status_triggers', 'tools:edit_notices'] };
const TOOLS: Staff = { id: 'tove', number: 60, permissions: ['tools'] };
const BOSS: Staff = { id: 'boss', number: 7, permissions: ['superlibrarian'] };
const DESK: Staff = { id: 'desk', number: 88, permissions: ['borrowers:edit_borrowers', 'circulate'] };
// The same desk, allowed to run plugin tools (Koha's plugins › tool): run.pl lets them through to the tab.
const DESK_TOOLS: Staff = { ...DESK, id: 'desktools', permissions: [...DESK.permissions, 'plugins:tool'] };

describe('the Koha plugin package (npm run package:kpz)', function () {
  this.timeout(60_000);
  let work: string;
  let kpz: string;
  let extracted: string;
  let standins: string;
  let dataFile: string;
  let manifest: Manifest;

  function perl(args: string[], env: Record<string, string> = {}) {
    return spawnSync('perl', args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  }

  function setData(data: Record<string, string> | null): void {
    if (data === null) fs.rmSync(dataFile, { force: true });
    else fs.writeFileSync(dataFile, JSON.stringify(data));
  }

  function storedData(): Record<string, string> {
    return fs.existsSync(dataFile) ? (JSON.parse(fs.readFileSync(dataFile, 'utf8')) as Record<string, string>) : {};
  }

  /**
   * What the plugin passes a page template. Which values are there depends on the page and on who asks
   * (a refusal has a `problem` and no menu); the tests read the others as they check them.
   */
  interface PageParams {
    [name: string]: unknown;
    menu?: Array<{ id: string }>;
    current?: { id: string };
    iframe_src?: string;
  }

  /** What a plugin method printed (a page, a redirect, a file) or returned. */
  interface PluginOutput {
    kind: 'html' | 'redirect' | 'returned' | 'file';
    status?: string;
    page?: { file: string; params: PageParams };
    value?: unknown;
    metadata?: Record<string, unknown>;
    body?: string;
    '-type'?: string;
    '-charset'?: string;
    '-uri'?: string;
    '-status'?: string;
    '-Cache_Control'?: string;
  }

  /** Runs one plugin method as Koha's run.pl would, and returns what it printed. */
  let kohaConf: Record<string, string> = {};

  function run(
    method: string,
    params: Record<string, string>,
    staff: Staff | null,
    lang = 'sv-SE',
    env: Record<string, string> = {},
  ): PluginOutput {
    const r = perl(['-I', standins, '-I', extracted, path.join(standins, 'run-plugin.pl'), method, JSON.stringify(params)], {
      KMC_STANDIN_PLUGIN_DATA: dataFile,
      KMC_STANDIN_USERENV: staff ? JSON.stringify({ id: staff.id, number: staff.number }) : '',
      KMC_STANDIN_PERMISSIONS: JSON.stringify(staff ? { [staff.id]: staff.permissions } : {}),
      KMC_STANDIN_LANG: lang,
      KMC_STANDIN_CONF: JSON.stringify(kohaConf),
      // A patron page unless the test says otherwise: Koha's staff pages run as CGI scripts.
      SCRIPT_NAME: '/cgi-bin/koha/members/moremember.pl',
      ...env,
    });
    if (r.status !== 0) throw new Error(`perl ${method} failed: ${r.stderr}`);
    const split = r.stdout.indexOf('\n\n');
    if (split > 0 && r.stdout.slice(0, split).includes('"kind":"file"')) {
      return { ...(JSON.parse(r.stdout.slice(0, split)) as PluginOutput), body: r.stdout.slice(split + 2) };
    }
    return JSON.parse(r.stdout) as PluginOutput;
  }

  function tokenIn(url: string | undefined) {
    if (url === undefined) throw new Error('the page has no iframe_src');
    const u = new URL(url);
    return { url: u, check: verifyLaunchToken(SECRET, u.searchParams.get('token') ?? '', Math.floor(Date.now() / 1000)) };
  }

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kmc-kpz-'));
    const r = spawnSync('npm', ['run', '--silent', 'package:kpz', '--', '--out', path.join(work, 'dist')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).to.equal(0);
    kpz = path.join(work, 'dist', `koha-plugin-message-center-${VERSION}.kpz`);
    expect(r.stdout).to.contain(`koha-plugin-message-center-${VERSION}.kpz (${EXPECTED_ENTRIES.length} entries)`);

    extracted = path.join(work, 'plugin');
    for (const entry of readZip(fs.readFileSync(kpz))) {
      const target = path.join(extracted, entry.name);
      if (entry.isDirectory) fs.mkdirSync(target, { recursive: true });
      else fs.writeFileSync(target, entry.data);
    }
    standins = path.join(work, 'koha');
    for (const [file, source] of Object.entries(STANDINS)) {
      fs.mkdirSync(path.dirname(path.join(standins, file)), { recursive: true });
      fs.writeFileSync(path.join(standins, file), source);
    }
    dataFile = path.join(work, 'plugin_data.json');
    manifest = readManifest();
  });

  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('the .kpz file', () => {
    it('holds the plugin module and its folder, and nothing else', () => {
      const entries = readZip(fs.readFileSync(kpz));
      expect(entries.map((e) => e.name)).to.deep.equal(EXPECTED_ENTRIES);
      expect(entries.filter((e) => !e.isDirectory).every((e) => e.data.length > 0)).to.equal(true);
      // text compresses, so the deflate path is the one used
      expect(entries.find((e) => e.name.endsWith('KohaMessageCenter.pm'))?.method).to.equal('deflate');
    });

    it("is read the same by Perl's own unzip module (as Koha's upload reads zips)", () => {
      const r = perl([
        '-MIO::Uncompress::Unzip=$UnzipError',
        '-e',
        String.raw`
        my $z = IO::Uncompress::Unzip->new($ARGV[0]) or die "unzip: $UnzipError";
        my $status = 1;
        while ( $status > 0 ) {
          my $name = $z->getHeaderInfo->{Name};
          my ( $data, $buf ) = ( '', '' );
          $data .= $buf while ( $status = $z->read($buf) ) > 0;
          die "read $name: $UnzipError" if $status < 0;
          print "$name\t", length($data), "\n";
          $status = $z->nextStream;
        }
        die "next: $UnzipError" if $status < 0;`,
        kpz,
      ]);
      expect(r.status, r.stderr).to.equal(0);
      const ours = readZip(fs.readFileSync(kpz)).map((e) => `${e.name}\t${e.data.length}`);
      expect(r.stdout.trim().split('\n')).to.deep.equal(ours);
    });

    it("fills the module's metadata from the manifest and package.json, leaving no placeholder", () => {
      const pm = fs.readFileSync(path.join(extracted, 'Koha/Plugin/Org/KohaMessageCenter.pm'), 'utf8');
      expect(pm).not.to.match(/'\{[A-Z_]+\}'/);
      expect(pm).to.contain(`our $VERSION = '${VERSION}';`);
      expect(pm).to.contain('maximum_version => undef,');
      const metadata = run('upgrade', {}, BOSS).metadata;
      expect(metadata).to.include({
        name: manifest.plugin.name,
        author: manifest.plugin.author,
        description: manifest.description,
        date_authored: manifest.plugin.dateAuthored,
        minimum_version: '22.11.00.000',
        version: VERSION,
        class: 'Koha::Plugin::Org::KohaMessageCenter',
      });
      expect(metadata?.maximum_version).to.equal(null);
      expect(metadata?.date_updated).to.match(/^\d{4}-\d{2}-\d{2}$/);
    });

    it("carries the checked manifest as the plugin's page list", () => {
      const inside = JSON.parse(fs.readFileSync(path.join(extracted, 'Koha/Plugin/Org/KohaMessageCenter/manifest.json'), 'utf8'));
      expect(inside).to.deep.equal(manifest);
      expect(manifest.pages.map((p) => [p.id, p.path, p.shows])).to.deep.equal([
        ['dashboard', '/dashboard', 'tools'],
        ['routines', '/routines', 'tools'],
        ['queue', '/queue', 'tools'],
        ['archive', '/archive', 'tools'],
        ['rules', '/rules', 'administration'],
        ['templates', '/templates', 'administration'],
        ['settings', '/settings', 'administration'],
        ['patron_messages', '/patrons/{borrowernumber}/messages', 'patron_tab'],
      ]);
      expect(manifest.toggle).to.deep.equal({
        table: 'plugin_data',
        pluginClass: 'Koha::Plugin::Org::KohaMessageCenter',
        key: '__ENABLED__',
      });
    });

    it('is built the same twice for the same date (SOURCE_DATE_EPOCH)', () => {
      const build = (out: string) =>
        spawnSync('npx', ['tsx', 'scripts/package-kpz.ts', '--out', out], {
          cwd: REPO_ROOT,
          encoding: 'utf8',
          env: { ...process.env, SOURCE_DATE_EPOCH: '1795000000' },
        });
      for (const out of ['a', 'b']) expect(build(path.join(work, out)).status).to.equal(0);
      const a = fs.readFileSync(path.join(work, 'a', path.basename(kpz)));
      const b = fs.readFileSync(path.join(work, 'b', path.basename(kpz)));
      expect(a.equals(b)).to.equal(true);
      const pm = readZip(a)
        .find((e) => e.name === 'Koha/Plugin/Org/KohaMessageCenter.pm')!
        .data.toString('utf8');
      expect(pm).to.contain("date_updated    => '2026-11-18'");
    });
  });

  describe('the zip writer and reader', () => {
    it('round-trips stored and deflated entries, with the CRC-32 zip uses', () => {
      expect(crc32(Buffer.from('123456789'))).to.equal(0xcbf43926);
      const big = Buffer.from('a line of text that repeats\n'.repeat(200));
      const small = Buffer.from([0x00, 0xff, 0x10]);
      const zip = createZip(
        [{ name: 'd/' }, { name: 'd/big.txt', data: big }, { name: 'd/small.bin', data: small }],
        new Date('2026-11-24T10:20:30Z'),
      );
      const back = readZip(zip);
      expect(back.map((e) => [e.name, e.method, e.isDirectory])).to.deep.equal([
        ['d/', 'stored', true],
        ['d/big.txt', 'deflate', false],
        ['d/small.bin', 'stored', false],
      ]);
      expect(back[1].data.equals(big)).to.equal(true);
      expect(back[2].data.equals(small)).to.equal(true);
    });

    it('notices a changed byte in an entry', () => {
      const zip = createZip([{ name: 'a.txt', data: Buffer.from('hello, library') }], new Date('2026-11-24T00:00:00Z'));
      zip[30 + 'a.txt'.length + 2] ^= 0x01; // inside the stored data
      expect(() => readZip(zip)).to.throw(PackageError, /a\.txt: size or CRC does not match/);
    });

    it('refuses entry names that could leave the folder they are unpacked in', () => {
      for (const name of ['../x.pm', '/etc/x', 'a\\b', 'Koha/../../x']) {
        expect(() => createZip([{ name, data: Buffer.from('x') }], new Date())).to.throw(PackageError, /cannot be named/);
      }
    });

    it('refuses a placeholder it has no value for', () => {
      expect(() => fillPluginModule("our $X = '{NOT_KNOWN}';", manifest, '1.0.0', new Date())).to.throw(PackageError, /NOT_KNOWN/);
    });
  });

  describe('the manifest check', () => {
    /** The manifest as its JSON file holds it, before any check: each case below breaks one field of it. */
    interface ManifestJson {
      pages: Array<Record<string, unknown>>;
      toggle: Record<string, unknown>;
      plugin: Record<string, unknown>;
      launch: Record<string, unknown>;
      baseUrl: unknown;
    }
    const good = () => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'plugin-manifest', 'manifest.json'), 'utf8')) as ManifestJson;
    const cases: Array<[string, (m: ManifestJson) => void, RegExp]> = [
      ['a page id used twice', (m) => (m.pages[1].id = m.pages[0].id), /page dashboard: the id is used twice/],
      ['an unknown place', (m) => (m.pages[0].shows = 'opac'), /page dashboard: shows must be one of/],
      ['a path with a host', (m) => (m.pages[0].path = '//evil.example/x'), /page dashboard: path/],
      ['a full URL as path', (m) => (m.pages[0].path = 'https://evil.example/'), /page dashboard: path/],
      [
        'two permissions in one',
        (m) => (m.pages[0].permission = [{ tools: '*', borrowers: '*' }]),
        /page dashboard: permission\[0\] must be one Koha permission/,
      ],
      ['no permission', (m) => (m.pages[0].permission = []), /page dashboard: permission must be a list/],
      ['a permission of another shape', (m) => (m.pages[0].permission = [{ tools: 2 }]), /page dashboard: permission\[0\]/],
      ['a patron tab without {borrowernumber}', (m) => (m.pages[7].path = '/patrons'), /page patron_messages: a patron tab/],
      ['another placeholder', (m) => (m.pages[7].path = '/patrons/{cardnumber}'), /only hold \{borrowernumber\}/],
      ['another toggle', (m) => (m.toggle.key = 'enabled'), /toggle must name plugin_data and the key __ENABLED__/],
      ['another class', (m) => (m.plugin.class = 'Koha::Plugin::Other'), /plugin\.class and toggle\.pluginClass/],
      ['a base URL with a trailing slash', (m) => (m.baseUrl = 'http://127.0.0.1:8480/'), /baseUrl must not end with \//],
      ['a Koha version in the wrong form', (m) => (m.plugin.minimumKohaVersion = '22.11'), /plugin\.minimumKohaVersion/],
      ['another token lifetime', (m) => (m.launch.tokenLifetimeSeconds = 3600), /launch\.tokenLifetimeSeconds must be 120/],
    ];
    for (const [what, change, why] of cases) {
      it(`refuses ${what}, naming the field`, () => {
        const m = good();
        change(m);
        expect(() => validateManifest(m))
          .to.throw(ManifestError, why)
          .with.property('code', 'KMC_MANIFEST_INVALID');
      });
    }

    it('stops the packaging with a clear message, and writes no file, when the manifest is wrong', () => {
      const root = path.join(work, 'badroot');
      fs.mkdirSync(path.join(root, 'plugin-manifest'), { recursive: true });
      fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'));
      fs.writeFileSync(path.join(root, 'plugin-manifest', 'manifest.json'), '{ "pages": [] ');
      expect(() => buildKpz({ repoRoot: root })).to.throw(ManifestError, /plugin-manifest\/manifest\.json: cannot be read as JSON/);
      fs.writeFileSync(path.join(root, 'plugin-manifest', 'manifest.json'), '{ "pages": [] }');
      expect(() => buildKpz({ repoRoot: root })).to.throw(ManifestError, /baseUrl must be a non-empty text/);
      expect(fs.existsSync(path.join(root, 'dist'))).to.equal(false);
    });
  });

  describe('the plugin inside it, run by perl', () => {
    beforeEach(() => {
      setData({ sidecar_url: 'https://messages.library.example/', secret: SECRET });
    });

    it('compiles', () => {
      const r = perl(['-I', standins, '-I', extracted, '-c', path.join(extracted, 'Koha/Plugin/Org/KohaMessageCenter.pm')]);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.contain('syntax OK');
    });

    it('Tools: lists the pages the staff member may open and shows the first with a launch token the sidecar accepts', () => {
      const out = run('tool', {}, ANNA);
      expect(out.kind).to.equal('html');
      const params = out.page!.params;
      expect(out.page!.file).to.equal('page.tt');
      // routines and rules (tools › edit_notice_status_triggers), templates (tools › edit_notices);
      // not the queue or the dashboard (the whole tools module or circulation), nor settings
      expect(params.menu!.map((p) => p.id)).to.deep.equal(['routines', 'rules', 'templates']);
      expect(params.current!.id).to.equal('routines');
      const { url, check } = tokenIn(params.iframe_src);
      expect(`${url.origin}${url.pathname}`).to.equal('https://messages.library.example/launch');
      expect(url.searchParams.get('next')).to.equal('/routines');
      expect(url.searchParams.get('lang')).to.equal('sv-SE');
      expect(check).to.include({ ok: true, borrowernumber: 51 });
    });

    it('reads the permissions as Koha does: the whole tools module, or circulation, opens the queue; a sub-permission alone does not', () => {
      expect(run('tool', {}, TOOLS).page!.params.menu!.map((p) => p.id)).to.deep.equal([
        'dashboard',
        'routines',
        'queue',
        'rules',
        'templates',
      ]);
      expect(run('tool', {}, DESK).page!.params.menu!.map((p) => p.id)).to.deep.equal(['dashboard', 'queue', 'archive']);
      expect(run('tool', { page: 'queue' }, ANNA).page!.params.problem).to.equal('no_permission');
    });

    it('Tools: a superlibrarian sees the administration pages too (for Koha before 24.05)', () => {
      const params = run('tool', { page: 'settings' }, BOSS).page!.params;
      expect(params.menu!.map((p) => p.id)).to.deep.equal(['dashboard', 'routines', 'queue', 'archive', 'rules', 'templates', 'settings']);
      const { url, check } = tokenIn(params.iframe_src);
      expect(url.searchParams.get('next')).to.equal('/settings');
      expect(check).to.include({ ok: true, borrowernumber: 7 });
    });

    it('Administration: only the administration pages', () => {
      const params = run('admin', {}, BOSS).page!.params;
      expect(params.area).to.equal('admin');
      expect(params.menu!.map((p) => p.id)).to.deep.equal(['rules', 'templates', 'settings']);
      expect(params.current!.id).to.equal('rules');
    });

    it('refuses a page the staff member lacks the permission for, with 403 and no token', () => {
      const out = run('tool', { page: 'settings' }, ANNA);
      expect(out.status).to.equal('403 Forbidden');
      expect(out.page!.params).to.include({ problem: 'no_permission' });
      expect(out.page!.params.iframe_src).to.equal(undefined);
    });

    it('refuses an unknown page, and a tools page asked for on the administration page', () => {
      expect(run('tool', { page: 'nope' }, BOSS).page!.params.problem).to.equal('unknown_page');
      expect(run('admin', { page: 'queue' }, BOSS).page!.params.problem).to.equal('unknown_page');
    });

    it('patron tab: launch=1 sends the iframe on to the sidecar with a fresh token, uncached', () => {
      const out = run('tool', { page: 'patron_messages', borrowernumber: '42', launch: '1' }, DESK);
      expect(out.kind).to.equal('redirect');
      expect(out['-status']).to.equal('302 Found');
      expect(out['-Cache_Control']).to.equal('no-store');
      const { url, check } = tokenIn(out['-uri']);
      expect(url.searchParams.get('next')).to.equal('/patrons/42/messages');
      expect(check).to.include({ ok: true, borrowernumber: 88 });
    });

    it('patron tab: shown on its own page with the patron in the breadcrumbs, and a bad borrowernumber is refused', () => {
      const shown = run('tool', { page: 'patron_messages', borrowernumber: '42' }, DESK).page!.params;
      expect(shown.values).to.deep.equal({ borrowernumber: '42' });
      expect(tokenIn(shown.iframe_src).url.searchParams.get('next')).to.equal('/patrons/42/messages');
      for (const borrowernumber of ['', '0', '42abc', '../1', '1/../../admin']) {
        expect(run('tool', { page: 'patron_messages', borrowernumber }, DESK).page!.params.problem, borrowernumber).to.equal('bad_request');
      }
      expect(run('tool', { page: 'patron_messages', borrowernumber: '42' }, ANNA).page!.params.problem).to.equal('no_permission');
    });

    it('says what is missing: no secret yet, no staff account, no page open to this person', () => {
      setData({ sidecar_url: 'https://messages.library.example' });
      expect(run('tool', {}, ANNA).page!.params.problem).to.equal('not_configured');
      // No address yet: nothing is launched, not even to the manifest's example address.
      setData({ secret: SECRET });
      const unset = run('tool', {}, ANNA).page!.params;
      expect(unset).to.include({ problem: 'not_configured', may_configure: 0 });
      expect(unset.iframe_src).to.equal(undefined);
      // The link to Configure only for those run.pl lets through to it (plugins › configure).
      expect(run('tool', {}, BOSS).page!.params).to.include({ problem: 'not_configured', may_configure: 1 });
      setData({ sidecar_url: 'https://messages.library.example', secret: SECRET });
      expect(run('tool', {}, { ...BOSS, number: null }).page!.params.problem).to.equal('no_staff_account');
      expect(run('tool', {}, { id: 'nobody', number: 3, permissions: ['catalogue'] }).page!.params.problem).to.equal('no_pages');
    });

    it('makes a new token every time the page is opened', () => {
      const a = tokenIn(run('tool', {}, ANNA).page!.params.iframe_src);
      const b = tokenIn(run('tool', {}, ANNA).page!.params.iframe_src);
      expect(a.check.ok && b.check.ok && a.check.nonce !== b.check.nonce).to.equal(true);
    });

    it('Configure: stores the address and the secret, never shows the secret again, keeps it when left empty', () => {
      setData(null);
      const first = run('configure', {}, BOSS).page!.params;
      // The address is empty until an administrator enters it.
      expect(first).to.include({ secret_set: 0, sidecar_url: '', saved: 0, mixed_content: 0 });
      expect(first.suggested_secret).to.match(/^[0-9a-f]{64}$/);

      const saved = run('configure', { op: 'cud-save', sidecar_url: ' https://kmc.example.org:8443/ ', secret: SECRET }, BOSS).page!.params;
      expect(saved).to.include({ saved: 1, secret_set: 1, sidecar_url: 'https://kmc.example.org:8443' });
      expect(JSON.stringify(saved)).not.to.contain(SECRET);
      expect(storedData()).to.deep.equal({ sidecar_url: 'https://kmc.example.org:8443', secret: SECRET });

      run('configure', { op: 'cud-save', sidecar_url: 'https://kmc2.example.org', secret: '' }, BOSS);
      expect(storedData()).to.deep.equal({ sidecar_url: 'https://kmc2.example.org', secret: SECRET });
    });

    it('Configure: refuses a bad address or a short secret and stores nothing', () => {
      setData({ sidecar_url: 'https://kept.example', secret: SECRET });
      const bad = run('configure', { op: 'cud-save', sidecar_url: 'javascript:alert(1)', secret: 'short' }, BOSS).page!.params;
      expect(bad.saved).to.equal(0);
      expect(bad.errors).to.deep.equal({ sidecar_url: 1, secret_short: 1 });
      expect(storedData()).to.deep.equal({ sidecar_url: 'https://kept.example', secret: SECRET });
      setData(null);
      expect(
        run('configure', { op: 'cud-save', sidecar_url: 'https://kmc.example.org', secret: '' }, BOSS).page!.params.errors,
      ).to.deep.equal({ secret_missing: 1 });
      expect(storedData()).to.deep.equal({});
      // a plain GET with the fields (no op) changes nothing either
      run('configure', { sidecar_url: 'https://kmc.example.org', secret: SECRET }, BOSS);
      expect(storedData()).to.deep.equal({});
    });

    it('prefers the secret in koha-conf.xml, where SQL reports cannot read it', () => {
      const conf = 'the secret kept in koha-conf.xml only';
      kohaConf = { message_center_secret: conf };
      try {
        setData({ sidecar_url: 'https://messages.library.example', secret: SECRET });
        const url = new URL(run('tool', {}, BOSS).page!.params.iframe_src!);
        const token = url.searchParams.get('token')!;
        expect(verifyLaunchToken(conf, token, Math.floor(Date.now() / 1000))).to.include({ ok: true, borrowernumber: 7 });
        expect(verifyLaunchToken(SECRET, token, Math.floor(Date.now() / 1000))).to.deep.equal({ ok: false, reason: 'signature' });

        setData({ sidecar_url: 'https://messages.library.example' });
        const page = run('configure', { op: 'cud-save', sidecar_url: 'https://kmc.example.org', secret: 'typed in anyway, ignored' }, BOSS)
          .page!.params;
        expect(page).to.include({ saved: 1, secret_in_conf: 1, secret_set: 1 });
        expect(storedData()).to.deep.equal({ sidecar_url: 'https://kmc.example.org' });
      } finally {
        kohaConf = {};
      }
    });

    it('install sets no address: the sidecar address stays empty until Configure, and one already set is kept', () => {
      setData(null);
      expect(run('install', {}, BOSS).value).to.equal(1);
      expect(storedData()).to.deep.equal({});
      expect(run('configure', {}, BOSS).page!.params.sidecar_url).to.equal('');
      setData({ sidecar_url: 'https://kept.example' });
      run('install', {}, BOSS);
      expect(storedData()).to.deep.equal({ sidecar_url: 'https://kept.example' });
    });

    it('intranet_js: a script loaded by src with its settings in a data- attribute (no inline script), and no token in the page', () => {
      const js = run('intranet_js', {}, DESK_TOOLS).value as string;
      const tag = /^<script src="([^"]+)" data-kmc-patron-tab="([^"]+)" defer><\/script>\n$/.exec(js);
      expect(tag, js).to.not.equal(null);
      const unescape = (a: string) =>
        a
          .replace(/&quot;/g, '"')
          .replace(/&#39;/g, "'")
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&amp;/g, '&');
      expect(JSON.parse(unescape(tag![2]))).to.deep.equal({
        pluginClass: 'Koha::Plugin::Org::KohaMessageCenter',
        pageId: 'patron_messages',
        title: 'Messages',
        menuTitle: 'Messages (Message Center)',
        runUrl: '/cgi-bin/koha/plugins/run.pl',
      });
      const src = new URL(unescape(tag![1]), 'https://koha.example');
      expect(src.pathname).to.equal('/cgi-bin/koha/plugins/run.pl');
      expect(Object.fromEntries(src.searchParams)).to.deep.equal({
        class: 'Koha::Plugin::Org::KohaMessageCenter',
        method: 'tool',
        asset: 'patron-tab.js',
        v: VERSION,
      });
      expect(js).not.to.match(/v1\.\d+\.\d+\.[0-9a-f]{32}/);

      // The script itself, as run.pl answers that address: JavaScript, cacheable, the file as packaged.
      const file = run('tool', Object.fromEntries(src.searchParams), DESK_TOOLS);
      expect(file).to.include({ kind: 'file', '-type': 'application/javascript', '-charset': 'UTF-8' });
      expect(file.body).to.equal(fs.readFileSync(path.join(extracted, 'Koha/Plugin/Org/KohaMessageCenter/patron-tab.js'), 'utf8'));
      expect(run('tool', { asset: '../KohaMessageCenter.pm' }, DESK_TOOLS)).to.include({ kind: 'file', '-status': '404 Not Found' });

      // Not for staff without the patron page's permission, nor before the plugin is configured.
      expect(run('intranet_js', {}, ANNA).value).to.equal('');
      setData({ sidecar_url: 'https://messages.library.example' });
      expect(run('intranet_js', {}, DESK_TOOLS).value).to.equal('');
      setData({ secret: SECRET });
      expect(run('intranet_js', {}, DESK_TOOLS).value).to.equal('');
    });

    it('intranet_js: a staff member with circulation but not plugins › tool gets no patron tab (run.pl would refuse them)', () => {
      expect(run('intranet_js', {}, DESK).value).to.equal('');
      expect(run('intranet_js', {}, DESK_TOOLS).value).to.match(/^<script src=/);
      expect(run('intranet_js', {}, { ...DESK, id: 'deskall', permissions: [...DESK.permissions, 'plugins'] }).value).to.match(
        /^<script src=/,
      );
    });

    it('intranet_js: on staff pages that are not patron pages it returns nothing, with no query and no file read', () => {
      const queries = path.join(work, 'queries.log');
      const counted = (script: string, staff: Staff) => {
        fs.rmSync(queries, { force: true });
        const value = run('intranet_js', {}, staff, 'sv-SE', { SCRIPT_NAME: script, KMC_STANDIN_QUERIES: queries }).value;
        const lines = fs.existsSync(queries) ? fs.readFileSync(queries, 'utf8').trim().split('\n').filter(Boolean) : [];
        return { value, lines };
      };
      for (const script of ['/cgi-bin/koha/mainpage.pl', '/cgi-bin/koha/catalogue/search.pl', '/cgi-bin/koha/circ/circulation.pl']) {
        expect(counted(script, BOSS), script).to.deep.equal({ value: '', lines: [] });
      }
      // A patron page before the plugin is configured: one cheap query (its address), nothing more.
      setData({});
      expect(counted('/cgi-bin/koha/members/moremember.pl', BOSS)).to.deep.equal({ value: '', lines: ['plugin_data sidecar_url'] });
      setData({ sidecar_url: 'https://messages.library.example', secret: SECRET });
      expect(counted('/cgi-bin/koha/members/moremember.pl', BOSS).value).to.match(/^<script src=/);
    });

    it('registers no stray plugin methods: the public subs of the package are only the hooks Koha calls', () => {
      // Koha lists every public sub of the plugin's package (imported ones and constants too) in plugin_methods.
      const r = perl([
        '-I',
        standins,
        '-I',
        extracted,
        '-MKoha::Plugin::Org::KohaMessageCenter',
        '-e',
        'no strict "refs"; my $s = \\%{"Koha::Plugin::Org::KohaMessageCenter::"}; ' +
          'print join(",", sort grep { !/^_/ && defined &{"Koha::Plugin::Org::KohaMessageCenter::$_"} } keys %$s)',
      ]);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.split(',')).to.deep.equal(['admin', 'configure', 'install', 'intranet_js', 'new', 'tool', 'uninstall', 'upgrade']);
    });

    it('Configure: warns about mixed content when Koha is on https and the sidecar on http', () => {
      setData({ sidecar_url: 'http://kmc.library.example:8480', secret: SECRET });
      expect(run('configure', {}, BOSS).page!.params.mixed_content, 'Koha on http').to.equal(0);
      expect(run('configure', {}, BOSS, 'en', { HTTPS: 'on' }).page!.params.mixed_content).to.equal(1);
      expect(run('configure', {}, BOSS, 'en', { HTTP_X_FORWARDED_PROTO: 'https' }).page!.params.mixed_content).to.equal(1);
      expect(
        run('configure', {}, BOSS, 'en', { KMC_STANDIN_PREFS: JSON.stringify({ staffClientBaseURL: 'https://staff.library.example' }) })
          .page!.params.mixed_content,
      ).to.equal(1);
      setData({ sidecar_url: 'https://kmc.library.example', secret: SECRET });
      expect(run('configure', {}, BOSS, 'en', { HTTPS: 'on' }).page!.params.mixed_content).to.equal(0);
    });

    it("Configure: its texts come from the plugin's catalogues, in the staff member's language, English for the rest", () => {
      const catalogue = (lang: string) =>
        JSON.parse(fs.readFileSync(path.join(extracted, `Koha/Plugin/Org/KohaMessageCenter/i18n/${lang}.json`), 'utf8')) as Record<
          string,
          string
        >;
      const en = catalogue('en');
      expect(Object.keys(catalogue('sv')).sort()).to.deep.equal(Object.keys(en).sort());
      const sv = run('configure', {}, BOSS, 'sv-SE').page!.params.t as Record<string, string>;
      expect(sv.save).to.equal('Spara');
      expect(sv.error_secret_short).to.equal('Den delade hemligheten måste ha minst 16 tecken.');
      const english = run('configure', {}, BOSS, 'en').page!.params.t as Record<string, string>;
      expect(english.save).to.equal('Save');
      // A language without a catalogue: English.
      expect((run('configure', {}, BOSS, 'fi-FI').page!.params.t as Record<string, string>).mixed_content).to.equal(en.mixed_content);
      // Every text the template writes out is a catalogue key.
      const tt = fs.readFileSync(path.join(extracted, 'Koha/Plugin/Org/KohaMessageCenter/configure.tt'), 'utf8');
      const used = [...tt.matchAll(/\bt\.([a-z_]+)/g)].map((m) => m[1]);
      expect(used.length).to.be.greaterThan(20);
      for (const key of used) expect(en, key).to.have.property(key);
    });
  });

  describe('the patron tab, in a browser', () => {
    // A page shaped like Koha's patron page, with the plugin's intranet_js in
    // it; run.pl answers through the packaged plugin, and /sidecar/launch
    // stands for the sidecar and records what arrived.
    let server: http.Server;
    let base: string;
    let browser: Browser | undefined;
    const launches: Array<{ next: string | null; check: LaunchTokenCheck }> = [];
    const pluginCalls: string[] = [];
    const scriptLoads: string[] = [];
    const cspViolations: string[] = [];

    const patronPage = (js: string, withTabs: boolean) => `<!doctype html><html><head><title>Patron</title></head><body>
      <div id="menu"><ul><li><a href="#">Check out</a></li><li><a href="#">Notices</a></li></ul></div>
      ${
        withTabs
          ? `<div id="finesholdsissues"><ul class="nav nav-tabs" role="tablist">
        <li class="nav-item" role="presentation"><a class="nav-link active" href="#checkouts_panel" role="tab">Checkouts</a></li></ul>
        <div class="tab-content"><div class="tab-pane active" id="checkouts_panel" role="tabpanel">No checkouts</div></div></div>`
          : ''
      }
      ${js}</body></html>`;

    before(async () => {
      server = http.createServer((req, res) => {
        const url = new URL(req.url ?? '/', base);
        if (url.pathname === '/cgi-bin/koha/members/moremember.pl' || url.pathname === '/cgi-bin/koha/members/notices.pl') {
          const js = run('intranet_js', {}, DESK_TOOLS, 'sv-SE', { SCRIPT_NAME: url.pathname }).value as string;
          // A staff interface that allows no inline script: the tab must come from a script file.
          res
            .writeHead(200, {
              'content-type': 'text/html; charset=utf-8',
              'content-security-policy': "default-src 'self'; script-src 'self'",
            })
            .end(patronPage(js, url.pathname.endsWith('moremember.pl')));
        } else if (url.pathname === '/cgi-bin/koha/plugins/run.pl') {
          const out = run(url.searchParams.get('method') ?? '', Object.fromEntries(url.searchParams), DESK_TOOLS);
          if (out.kind === 'file') {
            scriptLoads.push(url.search);
            res.writeHead(200, { 'content-type': `${out['-type']}; charset=utf-8` }).end(out.body);
            return;
          }
          pluginCalls.push(url.search);
          if (out.kind === 'redirect') res.writeHead(302, { location: out['-uri'] }).end();
          else res.writeHead(200, { 'content-type': 'text/html' }).end('<p>the plugin page</p>');
        } else if (url.pathname === '/sidecar/launch') {
          launches.push({
            next: url.searchParams.get('next'),
            check: verifyLaunchToken(SECRET, url.searchParams.get('token') ?? '', Math.floor(Date.now() / 1000)),
          });
          res.writeHead(200, { 'content-type': 'text/html' }).end('<p>signed in</p>');
        } else {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      browser = await chromium.launch({ executablePath: process.env.KMC_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    });

    after(async () => {
      await browser?.close();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    });

    beforeEach(() => {
      setData({ sidecar_url: `${base}/sidecar`, secret: SECRET });
    });

    it('adds a Messages tab whose iframe loads only when opened, through the plugin, with a fresh token', async () => {
      const page = await browser!.newPage();
      try {
        page.on('console', (m) => {
          if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
        });
        await page.goto(`${base}/cgi-bin/koha/members/moremember.pl?borrowernumber=42`);
        const tab = page.locator('#finesholdsissues .nav-tabs a#kmc-messages-tab');
        expect(await tab.textContent()).to.equal('Messages');
        expect(await page.locator('#kmc-messages-frame').getAttribute('src')).to.equal(null);
        expect(pluginCalls).to.deep.equal([]);

        await tab.click();
        await page.frameLocator('#kmc-messages-frame').locator('text=signed in').waitFor({ timeout: 10_000 });
        const src = new URL((await page.locator('#kmc-messages-frame').getAttribute('src'))!, base);
        expect(Object.fromEntries(src.searchParams)).to.deep.equal({
          class: 'Koha::Plugin::Org::KohaMessageCenter',
          method: 'tool',
          page: 'patron_messages',
          borrowernumber: '42',
          launch: '1',
        });
        expect(launches).to.have.length(1);
        expect(launches[0].next).to.equal('/patrons/42/messages');
        expect(launches[0].check).to.include({ ok: true, borrowernumber: 88 });
        expect(scriptLoads.length, 'the script came as a file').to.be.greaterThan(0);
        expect(cspViolations, 'nothing the page policy refused').to.deep.equal([]);

        const menu = page.locator('#menu #kmc-messages-menu a');
        expect(await menu.textContent()).to.equal('Messages (Message Center)');
        expect(new URL((await menu.getAttribute('href'))!, base).searchParams.get('launch')).to.equal(null);
      } finally {
        await page.close();
      }
    });

    it('on other patron pages, only the menu entry', async () => {
      const page = await browser!.newPage();
      try {
        await page.goto(`${base}/cgi-bin/koha/members/notices.pl?borrowernumber=42`);
        expect(await page.locator('#kmc-messages-menu a').count()).to.equal(1);
        expect(await page.locator('#kmc-messages-tab').count()).to.equal(0);
      } finally {
        await page.close();
      }
    });
  });

  describe("the plugin's templates", () => {
    const templates = ['page.tt', 'configure.tt'];
    const read = (f: string) => fs.readFileSync(path.join(extracted, 'Koha/Plugin/Org/KohaMessageCenter', f), 'utf8');
    const directives = (tt: string) => [...tt.matchAll(/\[%-?([\s\S]*?)-?%\]/g)].map((m) => m[1].trim());
    const STATEMENT = /^(#|IF\b|ELSIF\b|ELSE\b|END\b|FOREACH\b|SWITCH\b|CASE\b|INCLUDE\b|USE\b)/;

    for (const file of templates) {
      it(`${file}: every value written out is escaped with | html or | uri`, () => {
        const outputs = directives(read(file)).filter((d) => !STATEMENT.test(d));
        expect(outputs.length).to.be.greaterThan(3);
        for (const d of outputs) expect(d, `[% ${d} %] in ${file}`).to.match(/\|\s*(html|uri)\s*$/);
      });
    }

    it('use only the values the plugin passes them (or their own loop variables)', () => {
      const passed: Record<string, Set<string>> = { 'page.tt': new Set(), 'configure.tt': new Set() };
      setData({ sidecar_url: 'https://messages.library.example', secret: SECRET });
      const outs = [
        run('tool', {}, BOSS),
        run('tool', { page: 'settings' }, ANNA),
        run('tool', { page: 'patron_messages', borrowernumber: '5' }, DESK),
        run('configure', { op: 'cud-save', sidecar_url: 'x', secret: 'y' }, BOSS),
      ];
      for (const o of outs) for (const k of Object.keys(o.page!.params)) passed[o.page!.file].add(k);
      // Koha's own template plugin, and Template Toolkit's loop counter
      const KOHA_PROVIDED = new Set(['Koha', 'loop']);
      for (const file of templates) {
        const loopVars = new Set<string>();
        const used = new Set<string>();
        for (const d of directives(read(file))) {
          if (d.startsWith('#') || /^(INCLUDE|USE)\b/.test(d)) continue;
          const loop = /^FOREACH\s+(\w+)\s+IN\b/.exec(d);
          if (loop) loopVars.add(loop[1]);
          const code = d
            .replace(/'[^']*'/g, "''")
            .replace(/\|\s*\w+/g, '')
            .replace(/^FOREACH\s+\w+\s+IN\b/, '');
          for (const m of code.matchAll(/(?<![.\w])([A-Za-z_]\w*)/g)) {
            if (!/^(IF|ELSIF|ELSE|END|SWITCH|CASE|FOREACH|IN|AND|OR|NOT)$/.test(m[1])) used.add(m[1]);
          }
        }
        const unknown = [...used].filter((v) => !passed[file].has(v) && !loopVars.has(v) && !KOHA_PROVIDED.has(v));
        expect(unknown, `${file} uses values the plugin never passes`).to.deep.equal([]);
      }
    });
  });
});
