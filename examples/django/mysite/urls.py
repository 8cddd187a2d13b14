from django.contrib import admin
from django.urls import path

from notes import views

urlpatterns = [
    path('', views.index, name='index'),
    path('notes.json', views.notes_json, name='notes-json'),
    path('stream/', views.stream, name='stream'),
    path('download/', views.download, name='download'),
    path('upload/', views.upload, name='upload'),
    path('admin/', admin.site.urls),
]
