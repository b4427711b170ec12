//! The game a player picks before starting — IWAD (found on this machine, or opened from a
//! file), PWADs, skill, episode/map — shared by the Play and Host screens.

use crate::wads::{list_maps, MapName, SKILLS};
use doomlink_play::iwad;
use doomlink_play::launch::GameSetup;
use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Which list an "Open…" dialog adds to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Iwad,
    Pwad,
}

/// A file dialog running on its own thread (it blocks; the UI must not).
struct OpenDialog {
    target: Target,
    rx: mpsc::Receiver<Option<PathBuf>>,
}

pub struct GameChoice {
    /// IWADs found by Chocolate Doom's search, and ones opened by hand: (path, game name).
    pub iwads: Vec<(PathBuf, String)>,
    pub iwad: Option<PathBuf>,
    pub pwads: Vec<PathBuf>,
    /// 1–5.
    pub skill: u8,
    /// None: the title screen (no `-warp`).
    pub map: Option<String>,
    maps: Vec<MapName>,
    maps_for: Option<(PathBuf, Vec<PathBuf>)>,
    dialog: Option<OpenDialog>,
    typed_path: String,
    pub error: Option<String>,
    /// The chosen IWAD's title picture, once loaded (None inside: it has none).
    title: Option<(PathBuf, Option<egui::TextureHandle>)>,
}

impl GameChoice {
    pub fn new(
        last_iwad: Option<PathBuf>,
        last_pwads: Vec<PathBuf>,
        skill: u8,
        map: Option<String>,
    ) -> Self {
        let mut iwads: Vec<(PathBuf, String)> = iwad::find_iwads()
            .into_iter()
            .map(|(p, n)| (p, n.to_string()))
            .collect();
        let iwad = match last_iwad {
            Some(p) if iwad::check_iwad(&p).is_ok() => {
                if !iwads.iter().any(|(q, _)| q == &p) {
                    iwads.push((p.clone(), file_label(&p)));
                }
                Some(p)
            }
            _ => iwads.first().map(|(p, _)| p.clone()),
        };
        GameChoice {
            iwads,
            iwad,
            pwads: last_pwads.into_iter().filter(|p| p.is_file()).collect(),
            skill: skill.clamp(1, 5),
            map,
            maps: Vec::new(),
            maps_for: None,
            dialog: None,
            typed_path: String::new(),
            error: None,
            title: None,
        }
    }

    /// The maps of the chosen IWAD and PWADs (re-read when the choice changes).
    fn refresh_maps(&mut self) {
        let Some(iwad) = &self.iwad else {
            self.maps.clear();
            return;
        };
        let key = (iwad.clone(), self.pwads.clone());
        if self.maps_for.as_ref() == Some(&key) {
            return;
        }
        let mut maps = list_maps(iwad).unwrap_or_default();
        for p in &self.pwads {
            for m in list_maps(p).unwrap_or_default() {
                if !maps.iter().any(|x| x.name == m.name) {
                    maps.push(m);
                }
            }
        }
        self.maps = maps;
        self.maps_for = Some(key);
        if let Some(m) = &self.map {
            if !self.maps.iter().any(|x| &x.name == m) {
                self.map = None;
            }
        }
    }

    /// The setup to start, or why it cannot start.
    pub fn setup(&self) -> Result<GameSetup, String> {
        let iwad = self
            .iwad
            .clone()
            .ok_or("Choose an IWAD first: none was found on this machine. Install Freedoom or open a WAD file.")?;
        let warp = self.map.as_ref().and_then(|m| {
            self.maps
                .iter()
                .find(|x| &x.name == m)
                .map(|x| x.warp.clone())
                .or_else(|| crate::wads::parse_map_name(m).map(|x| x.warp))
        });
        Ok(GameSetup {
            iwad,
            pwads: self.pwads.clone(),
            skill: warp.as_ref().map(|_| self.skill),
            warp,
            tics: None,
            args: Vec::new(),
        })
    }

    fn open_dialog(&mut self, ctx: &egui::Context, target: Target) {
        if self.dialog.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let title = match target {
            Target::Iwad => "Open an IWAD",
            Target::Pwad => "Add a PWAD",
        };
        let spawned = std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let picked = rfd::FileDialog::new()
                    .set_title(title)
                    .add_filter("WAD files", &["wad", "WAD"])
                    .add_filter("All files", &["*"])
                    .pick_file();
                let _ = tx.send(picked);
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.dialog = Some(OpenDialog { target, rx }),
            Err(e) => self.error = Some(format!("cannot open a file dialog: {e}")),
        }
    }

    fn add_file(&mut self, target: Target, path: PathBuf) {
        self.error = None;
        match target {
            Target::Iwad => match iwad::check_iwad(&path) {
                Ok(()) => {
                    if !self.iwads.iter().any(|(p, _)| p == &path) {
                        self.iwads.push((path.clone(), file_label(&path)));
                    }
                    self.iwad = Some(path);
                }
                Err(e) => self.error = Some(e.to_string()),
            },
            Target::Pwad => match iwad::check_wad(&path) {
                Ok(_) if self.pwads.contains(&path) => {}
                Ok(_) => self.pwads.push(path),
                Err(e) => self.error = Some(e.to_string()),
            },
        }
    }

    fn poll_dialog(&mut self) {
        let Some(d) = &self.dialog else { return };
        match d.rx.try_recv() {
            Ok(picked) => {
                let target = d.target;
                self.dialog = None;
                if let Some(p) = picked {
                    self.add_file(target, p);
                }
            }
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => self.dialog = None,
        }
    }

    /// The IWAD, PWAD, skill and map pickers.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.poll_dialog();
        self.refresh_maps();
        let ctx = ui.ctx().clone();
        egui::Grid::new("game-choice")
            .num_columns(2)
            .spacing([12.0, 10.0])
            .show(ui, |ui| {
                ui.label("IWAD");
                ui.horizontal(|ui| {
                    let selected = self
                        .iwad
                        .as_ref()
                        .map(|p| self.label_of(p))
                        .unwrap_or_else(|| "none found".into());
                    egui::ComboBox::from_id_salt("iwad")
                        .selected_text(selected)
                        .width(320.0)
                        .show_ui(ui, |ui| {
                            for (p, name) in self.iwads.clone() {
                                let label = format!("{name}  ·  {}", p.display());
                                ui.selectable_value(&mut self.iwad, Some(p), label);
                            }
                        });
                    if ui.button("Open…").clicked() {
                        self.open_dialog(&ctx, Target::Iwad);
                    }
                });
                ui.end_row();

                ui.label("PWADs");
                ui.vertical(|ui| {
                    let mut remove = None;
                    for (i, p) in self.pwads.iter().enumerate() {
                        ui.horizontal(|ui| {
                            ui.label(p.display().to_string());
                            if ui.small_button("Remove").clicked() {
                                remove = Some(i);
                            }
                        });
                    }
                    if let Some(i) = remove {
                        self.pwads.remove(i);
                    }
                    ui.horizontal(|ui| {
                        if ui.button("Add…").clicked() {
                            self.open_dialog(&ctx, Target::Pwad);
                        }
                        ui.add(
                            egui::TextEdit::singleline(&mut self.typed_path)
                                .hint_text("or type a path to a WAD")
                                .desired_width(260.0),
                        );
                        let typed = PathBuf::from(self.typed_path.trim());
                        let can = !self.typed_path.trim().is_empty();
                        if ui
                            .add_enabled(can, egui::Button::new("Use as IWAD"))
                            .clicked()
                        {
                            self.add_file(Target::Iwad, typed.clone());
                            self.typed_path.clear();
                        }
                        if ui
                            .add_enabled(can, egui::Button::new("Add as PWAD"))
                            .clicked()
                        {
                            self.add_file(Target::Pwad, typed);
                            self.typed_path.clear();
                        }
                    });
                });
                ui.end_row();

                ui.label("Start at");
                egui::ComboBox::from_id_salt("map")
                    .selected_text(self.map.clone().unwrap_or_else(|| "Title screen".into()))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.map, None, "Title screen");
                        for m in &self.maps {
                            ui.selectable_value(&mut self.map, Some(m.name.clone()), &m.name);
                        }
                    });
                ui.end_row();

                ui.label("Skill");
                ui.add_enabled_ui(self.map.is_some(), |ui| {
                    egui::ComboBox::from_id_salt("skill")
                        .selected_text(SKILLS[(self.skill as usize - 1).min(4)])
                        .show_ui(ui, |ui| {
                            for (i, name) in SKILLS.iter().enumerate() {
                                ui.selectable_value(&mut self.skill, i as u8 + 1, *name);
                            }
                        });
                })
                .response
                .on_disabled_hover_text("At the title screen, the game's New Game menu asks.");
                ui.end_row();
            });
        if self.dialog.is_some() {
            ui.label("Waiting for the file dialog…");
        }
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }

    /// The chosen IWAD's title screen, at 4:3, as large as fits up to twice its size.
    pub fn title_ui(&mut self, ui: &mut egui::Ui) {
        let Some(iwad) = &self.iwad else { return };
        if self.title.as_ref().map(|(p, _)| p) != Some(iwad) {
            let tex = crate::wads::title_picture(iwad).map(|(w, h, rgb)| {
                let img = egui::ColorImage::from_rgb([w, h], &rgb);
                ui.ctx()
                    .load_texture("title-picture", img, egui::TextureOptions::NEAREST)
            });
            self.title = Some((iwad.clone(), tex));
        }
        if let Some((_, Some(tex))) = &self.title {
            // Fit what is left of the visible page (the page scrolls, so its height is open).
            let visible = ui.clip_rect().bottom() - ui.cursor().top() - 12.0;
            let width = ui
                .available_width()
                .min(640.0)
                .min(visible * 4.0 / 3.0)
                .max(160.0);
            let size = egui::vec2(width, width * 3.0 / 4.0);
            ui.add(egui::Image::new((tex.id(), size)).corner_radius(4.0));
        }
    }

    fn label_of(&self, p: &Path) -> String {
        self.iwads
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| file_label(p))
    }
}

fn file_label(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}
